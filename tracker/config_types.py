"""The checked field types of keywords.yaml: numbers that are numbers, text without invisible
control characters, and arXiv categories that exist. Used by the models in tracker.config.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from tracker.arxiv_taxonomy import category_problem, pattern_problem
from tracker.config_yaml import printable

_NOT_FINITE = re.compile(r"[-+]?\.?(inf|infinity|nan)", re.IGNORECASE)
_FLOAT_TEXT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][-+]?\d+)")


def _number(value: Any) -> Any:
    if isinstance(value, bool):  # pydantic would read `true` as 1
        raise ValueError(f"expected a number, got {str(value).lower()}")
    if isinstance(value, str) and _NOT_FINITE.fullmatch(value.strip()):
        raise ValueError(f"expected a finite number, got {printable(value)}")
    return value


def _whole_number(value: Any) -> Any:
    value = _number(value)
    if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):  # floats stay text (see config_yaml)
        number = float(value)
        if not number.is_integer():  # also inf, from 1e400
            raise ValueError(f"expected a whole number, got {printable(value)}")
        return int(number)  # `100.0` or `1e20`: the range check then speaks about the value
    return value


def _category(value: str) -> str:
    problem = category_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _category_pattern(value: str) -> str:
    problem = pattern_problem(value)
    if problem:
        raise ValueError(problem)
    return value


# Invisible or line-breaking characters would garble queries, headings and one-line messages.
# (U+200D and variation selectors stay allowed: emoji sequences need them.)
_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _plain_text(value: str) -> str:
    for char in value:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI:
            raise ValueError(f"contains the invisible control character U+{ord(char):04X}; remove it")
    return value


Int = Annotated[int, BeforeValidator(_whole_number)]
Float = Annotated[float, BeforeValidator(_number)]
Text = Annotated[str, AfterValidator(_plain_text)]
Category = Annotated[str, AfterValidator(_category)]  # sent to arXiv: exactly as arXiv spells it
CategoryPattern = Annotated[str, AfterValidator(_category_pattern)]  # local filter: globs and archives too
