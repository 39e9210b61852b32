"""The checked field types of keywords.yaml: numbers that are numbers, text without invisible
control characters, and arXiv categories that exist. Used by the models in tracker.config.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import typing
import unicodedata
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

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
# GitHub's OWNER/NAME: ASCII letters, digits, "-", "_", "." (never "." or ".." alone): it goes into URLs.
REPO_NAME = re.compile(r"(?!\.{1,2}/)[A-Za-z0-9_.-]{1,100}/(?!\.{1,2}$)[A-Za-z0-9_.-]{1,100}")
# An environment variable's name (secrets are named in the config, never written there).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")


def full_match(pattern: re.Pattern[str], what: str) -> AfterValidator:
    """A validator refusing any value `pattern` does not match whole: "'x' is not <what>"."""

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not {what}")
        return value

    return AfterValidator(check)


Text = Annotated[str, AfterValidator(_plain_text)]
RepoName = Annotated[str, full_match(REPO_NAME, "a GitHub OWNER/NAME (ASCII letters, digits, -, _ and .)")]
Category = Annotated[str, AfterValidator(_category)]  # sent to arXiv: exactly as arXiv spells it
CategoryPattern = Annotated[str, AfterValidator(_category_pattern)]  # local filter: globs and archives too


class StrictModel(BaseModel):
    """A section of keywords.yaml: unknown keys are errors, and so are infinite or NaN numbers."""

    # allow_inf_nan: `.inf`/`nan` pass `ge=0` checks but break every sleep, timeout and cap downstream.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def did_you_mean(model: type[BaseModel], loc: tuple, key: str) -> str:
    """ "; did you mean `x`?" for an unknown `key` at `loc` (the path of the mapping holding it), or ""."""
    for part in loc:  # walk down the nested sections of `model`
        field = model.model_fields.get(part) if isinstance(part, str) else None
        nested = (
            [a for a in _types_in(field.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
            if field
            else []
        )
        if isinstance(part, str) and not nested:
            return ""
        model = nested[0] if nested else model  # list items (an int in `loc`) keep the model
    close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _types_in(annotation: Any) -> list[Any]:
    """The plain types inside an annotation (`LLMSettings | None` -> LLMSettings, NoneType)."""
    args = typing.get_args(annotation)
    return [found for arg in args for found in _types_in(arg)] if args else [annotation]


# --- summaries: the optional LLM TL;DRs (tracker.enrich.tldr_llm) ------------------------------

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LLMSettings(StrictModel):
    """`summaries.llm`: one-sentence TL;DRs from any OpenAI-compatible chat-completions endpoint."""

    base_url: Text = Field(max_length=2000)
    model: Text = Field(min_length=1, max_length=200)
    api_key_env: str = "LLM_API_KEY"  # the NAME of the environment variable holding the key
    max_papers_per_run: Int = Field(60, ge=1, le=1000)
    timeout_seconds: Float = Field(30.0, gt=0, le=600)  # one request
    budget_seconds: Float = Field(600.0, gt=0, le=3600)  # the whole step of a run: requests and retry waits

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        try:
            parts = urlsplit(value.strip())
            host = parts.hostname or ""
        except ValueError:
            raise ValueError(f"{printable(value)!r} is not a URL") from None
        if parts.scheme not in ("http", "https") or not host:
            raise ValueError("must be an http(s) URL, e.g. https://api.example.org/v1")
        if parts.username or parts.password:
            raise ValueError("must not carry credentials; put the key in the variable named by `api_key_env`")
        if parts.scheme == "http" and not _is_loopback(host):
            raise ValueError(
                f"plain http is allowed only for this machine (localhost, 127.0.0.1); use https for {host}"
            )
        return value.strip()

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not ENV_NAME.fullmatch(value):
            raise ValueError("must be the NAME of an environment variable (e.g. LLM_API_KEY), never the key itself")
        return value


class SummariesSettings(StrictModel):
    llm: LLMSettings | None = None  # off when absent
