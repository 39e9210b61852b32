"""tracker.text: the one normalisation every text field goes through."""
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.models import Paper
from tracker.text import LINE_BREAKS, _SPECIAL, clean_block, clean_line

NEUTRALISED = {"Cc", "Cf", "Cs", "Zl", "Zp"}


def test_the_pattern_covers_every_control_format_and_separator_code_point_this_python_knows():
    missed = [hex(c) for c in range(sys.maxunicode + 1)
              if unicodedata.category(chr(c)) in NEUTRALISED and not _SPECIAL.match(chr(c))]
    assert missed == []


def test_the_fast_path_skips_only_text_without_anything_to_neutralise():
    printable = [hex(c) for c in range(sys.maxunicode + 1) if _SPECIAL.match(chr(c)) and chr(c).isprintable()]
    assert printable == []


def test_every_python_line_break_is_known():
    breaks = {chr(c) for c in range(sys.maxunicode + 1) if len(("a" + chr(c) + "b").splitlines()) == 2}
    assert breaks == LINE_BREAKS


@pytest.mark.parametrize("raw, line, block", [
    ("cs.CL\u2028cs.AI", "cs.CL cs.AI", "cs.CL\ncs.AI"),  # line separator: a break, never raw
    ("para one\u2029para two", "para one para two", "para one\npara two"),
    ("a\x00b\x07c", "abc", "abc"),  # NUL and bell dropped
    ("a\tb\x0bc\x0cd\x1ce\x85f", "a b c d e f", "a b\nc\nd\ne\nf"),  # tab a space; VT/FF/FS/NEL breaks
    ("evil \u202egnp.exe\u202c name", "evil gnp.exe name", "evil gnp.exe name"),  # bidi override
    ("\u2066iso\u2069 \u200fmark", "iso mark", "iso mark"),
    ("zero\u200bwidth\u200c\u200d\u2060\ufeff\u180e!", "zerowidth!", "zerowidth!"),
    ("tag\U000e0041\U000e0042 smuggled", "tag smuggled", "tag smuggled"),
    ("soft\xadhyphen and c1\x9b", "softhyphen and c1", "softhyphen and c1"),
    ("J\u006f\u0308rg  M\u00fcller", "J\u00f6rg M\u00fcller", "J\u00f6rg M\u00fcller"),  # NFC, spaces collapsed
    ("\u00a0 wide\u3000space\u2003 ", "wide space", "wide space"),
    ("line one\r\nline two\r\n\r\n\r\n\r\nthree\n", "line one line two three", "line one\nline two\n\nthree"),
    ("lone \ud800 surrogate", "lone \ufffd surrogate", "lone \ufffd surrogate"),
    ("\ufdd0non\uffffchar\U0010ffff", "nonchar", "nonchar"),
    ("\u6570\u636e \U0001f916 \u0645\u0631\u062d\u0628\u0627", "\u6570\u636e \U0001f916 \u0645\u0631\u062d\u0628\u0627",
     "\u6570\u636e \U0001f916 \u0645\u0631\u062d\u0628\u0627"),  # visible text untouched
])
def test_examples(raw, line, block):
    assert clean_line(raw) == line
    assert clean_block(raw) == block


def _visible_problems(text: str, multiline: bool) -> list[str]:
    problems = [f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in NEUTRALISED and not (multiline and c == "\n")]
    if not unicodedata.is_normalized("NFC", text):
        problems.append("not NFC")
    if text != text.strip() or "  " in text:
        problems.append("loose whitespace")
    return problems


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, categories=None)))
def test_clean_line_output_is_one_clean_line_and_stable(raw):
    out = clean_line(raw)
    assert _visible_problems(out, multiline=False) == []
    assert len(out.splitlines()) <= 1
    assert clean_line(out) == out


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec=None, categories=None)))
def test_clean_block_keeps_only_newlines_and_is_stable(raw):
    out = clean_block(raw)
    assert _visible_problems(out, multiline=True) == []
    assert out.split("\n") == out.splitlines() or out == ""
    assert "\n\n\n" not in out
    assert clean_block(out) == out
    assert clean_line(out) == clean_line(raw)  # the two views agree on the words


def test_paper_cleaned_applies_the_field_kinds():
    dirty = Paper(
        id="2401.00001", version=1, title=" A\u2028title\u202e ", abstract="first\u2029second  line",
        authors=("Ada\u200b Lovelace", "\u200b"), categories=("cs.CL", "cs.CL\u2028", "cs.AI"),
        comment="\u200d", journal_ref="J.\u2028Phys", topics=("Beta", "Alpha\x00", "Beta"), extra={"raw": "\u2028"},
    )
    clean = dirty.cleaned()
    assert clean.title == "A title" and clean.abstract == "first\nsecond line"
    assert clean.authors == ("Ada Lovelace",)  # an author that was only noise is dropped
    assert clean.categories == ("cs.CL", "cs.AI") and clean.topics == ("Alpha", "Beta")
    assert clean.comment is None and clean.journal_ref == "J. Phys"
    assert clean.extra == {"raw": "\u2028"}  # fields we do not understand are carried, not rewritten
    assert clean.cleaned() is clean
