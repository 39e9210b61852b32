"""LaTeX in titles, abstracts and TL;DRs, shown as Unicode where that is unambiguous.

`$\\varepsilon_1$` reads ε₁ and `$\\mathcal{O}(n^2)$` reads 𝒪(n²). A display-time filter
(`readable`): the ledger keeps the text as arXiv sent it, and the result still goes through the
escaping filter of its destination (tracker.render.escape), like any other text.

pylatexenc's latex2text does the conversion; around it:
- Math is a `$...$` span by pandoc's rule (no space inside the dollars, no digit after the
  closing one), so "costs $5 and $10" is not math.
- Sub/superscripts become Unicode ones when every character has one (latex2text would print
  `x_ij^2`, losing where the subscript ends); otherwise they stay written as `_{...}`.
- A span is left exactly as written when it holds a macro latex2text does not know, a macro that
  reads files or makes links or references (`\\input`, `\\href`, `\\cite`...), unbalanced braces,
  nesting deeper than MAX_DEPTH, or converts to nothing. Outside math, only macros are converted
  (`\\"o`, `\\emph{x}`, `\\%`), never `%`, `~` or `_` on their own: that is plain text there.
- Bounded work: spans are short (MAX_SPAN), at most MAX_SPANS per text are converted, and the
  rest of a hostile 100 KB text is left as written.
"""

from __future__ import annotations

import functools
import logging
import re
from functools import partial

MAX_SPAN = 400  # characters of one math span or macro
MAX_SPANS = 100  # conversions per text; a real abstract has far fewer
MAX_DEPTH = 10  # brace nesting
CACHED_CHARS = 5000  # texts up to this long are remembered (titles, abstracts): a hostile 100 KB one is not
# Read files, make links or references: never converted (what they print is not the text's).
_REFUSED = frozenset(
    {
        "input",
        "include",
        "includegraphics",
        "href",
        "url",
        "cite",
        "citep",
        "citet",
        "ref",
        "eqref",
        "label",
        "footnote",
        "verb",
        "newcommand",
        "renewcommand",
        "def",
        "let",
    }
)

SUPERSCRIPT = dict(
    zip(
        "0123456789+-=()nijklmoprstuvwxyzabcdefghABDEGHIJKLMNOPRTUVWαβγδεθιφχ",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱʲᵏˡᵐᵒᵖʳˢᵗᵘᵛʷˣʸᶻᵃᵇᶜᵈᵉᶠᵍʰᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵅᵝᵞᵟᵋᶿᶥᵠᵡ",
        strict=True,
    )
)
SUBSCRIPT = dict(zip("0123456789+-=()aehijklmnoprstuvxβγρφχ", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ", strict=True))

# $...$ by pandoc's rule; `\$` is a literal dollar, `$$` is not opened here.
_MATH = re.compile(rf"(?<![\\$])\$(?![\s$])((?:[^$\\]|\\.){{1,{MAX_SPAN}}}?)(?<![\s\\])\$(?![\d$])", re.DOTALL)
# Outside math: one macro with its braced arguments, an accent on a letter, or an escaped symbol.
_TEXT_MACRO = re.compile(r"\\(?:[a-zA-Z]+(?:\{[^{}$\\]{0,80}\})*|['\"`^~=.][a-zA-Z]|['\"`^~=.]\{[a-zA-Z]\}|[%&#_$])")
# n^2, 10^{-3}: only digits outside math; "2^10" stays as written (TeX would read 2¹0, its writer 2¹⁰).
_TEXT_POWER = re.compile(r"(?<=[\w)\]])\^(?:\{([0-9+-]{1,4})\}|([0-9])(?![0-9]))")
_MACRO_NAME = re.compile(r"\\([a-zA-Z]+)")
_OPERATOR = re.compile(
    r"(?P<before>\w?)\\(?P<name>log|ln|exp|sin|cos|tan|max|min|arg|sup|inf|lim|det|dim|Pr)\b\s*(?P<after>\w?)"
)
# Sizing and spacing macros latex2text does not list but rightly prints as nothing.
_SILENT = frozenset(
    {
        "left",
        "right",
        "middle",
        "big",
        "Big",
        "bigg",
        "Bigg",
        "bigl",
        "bigr",
        "Bigl",
        "Bigr",
        "displaystyle",
        "textstyle",
        "scriptstyle",
        "limits",
        "nolimits",
    }
)
_GLUED = re.compile(r"\\[a-zA-Z]+[^\x00-\x7f\ue000]")  # a macro name running into a non-ASCII character
# `%` and `&` as written in a one-line abstract: a percent sign and an ampersand (to LaTeX, a comment
# that would silently drop the rest of the span, "$5%$ gains" -> "5 gains", and an alignment tab).
_LITERAL = re.compile(r"(?<!\\)((?:\\\\)*)([%&])")
_HOLE = "\ue000"  # private-use: marks where a finished script goes back after latex2text


def readable(text: str | None) -> str:
    """`text` with its LaTeX shown as Unicode where unambiguous; everything else as written."""
    if not text or ("$" not in text and "\\" not in text and "^" not in text):
        return text or ""
    return _remembered(text) if len(text) <= CACHED_CHARS else _readable(text)


@functools.lru_cache(maxsize=4096)  # the same title is shown on several pages in one run
def _remembered(text: str) -> str:
    return _readable(text)


def _readable(text: str) -> str:
    budget = [MAX_SPANS]
    out, done = [], 0
    for match in _MATH.finditer(text):
        out.append(_outside_math(text[done : match.start()], budget))
        out.append(_spend(budget, partial(_math, match.group(1))) or match.group(0))
        done = match.end()
    out.append(_outside_math(text[done:], budget))
    return "".join(out)


def _spend(budget: list[int], convert):
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    return convert()


def _outside_math(text: str, budget: list[int]) -> str:
    text = _TEXT_MACRO.sub(lambda m: _spend(budget, lambda: _convert(m.group(0))) or m.group(0), text)
    return _TEXT_POWER.sub(lambda m: _scripted(m.group(1) or m.group(2), SUPERSCRIPT) or m.group(0), text)


def _math(source: str) -> str | None:
    """One math span as Unicode, or None to leave it as written."""
    if not _plain_enough(source):
        return None
    scripts: list[str] = []
    source = _OPERATOR.sub(
        lambda m: " ".join(filter(None, (m["before"], m["name"], m["after"]))), source
    )  # n\log n: "n log n", not "nlogn"
    try:
        source = _take_scripts(source, scripts)
    except ValueError:
        return None
    converted = _convert(source)
    if converted is None:
        return None
    for script in scripts:
        converted = converted.replace(_HOLE, script, 1)
    return converted if _HOLE not in converted else None


def _take_scripts(source: str, scripts: list[str]) -> str:
    """`source` with each `_x`, `^{...}`, `_\\alpha` replaced by a hole; `scripts` gets what fills it."""
    out, i = [], 0
    while i < len(source):
        char = source[i]
        if char not in "_^":
            step = 2 if char == "\\" else 1  # `\_` is an underscore, not a subscript
            out.append(source[i : i + step])
            i += step
            continue
        body, i = _script_body(source, i + 1)
        inner = _convert(body) if body else None
        if inner is None:
            raise ValueError(body)
        table = SUPERSCRIPT if char == "^" else SUBSCRIPT
        inner = inner.replace(" ", "")
        scripts.append(_scripted(inner, table) or char + (inner if len(inner) == 1 else "{" + inner + "}"))
        out.append(_HOLE)
    return "".join(out)


def _script_body(source: str, start: int) -> tuple[str, int]:
    """The argument of a script starting at `start`, and where it ends."""
    if start >= len(source):
        return "", start
    if source[start] == "{":
        depth = 0
        for end, char in _unescaped(source, start):
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth == 0:
                return source[start + 1 : end], end + 1
        return "", len(source)
    macro = _MACRO_NAME.match(source, start)
    if macro:
        return macro.group(0), macro.end()
    return source[start], start + 1


def _scripted(text: str, table: dict[str, str]) -> str | None:
    """`text` in Unicode sub/superscripts, or None when a character has none."""
    if not text or any(c not in table for c in text):
        return None
    return "".join(table[c] for c in text)


def _unescaped(source: str, start: int = 0):
    """(index, character) of `source` from `start`, skipping each backslash and the character after it."""
    i = start
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        yield i, source[i]
        i += 1


def _plain_enough(source: str) -> bool:
    """Balanced braces (escaped ones aside), nested at most MAX_DEPTH deep."""
    depth = 0
    for _, char in _unescaped(source):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth < 0 or depth > MAX_DEPTH:
            return False
    return depth == 0


def _convert(latex: str) -> str | None:
    """latex2text of a short piece, or None when it cannot be converted faithfully."""
    if len(latex) > MAX_SPAN or not _plain_enough(latex):
        return None
    if _GLUED.search(latex):  # `\mathbfθ`: latex2text would drop the θ
        return None
    names = _MACRO_NAME.findall(latex)
    if any(name in _REFUSED or (name not in _known_macros() and name not in _SILENT) for name in names):
        return None
    try:
        text = _converter().latex_to_text(_LITERAL.sub(r"\1\\\2", latex))
    except Exception:  # pylatexenc raises assorted errors on malformed input: leave it as written
        return None
    if "%s" in text and "%s" not in latex:  # a macro missing its arguments prints its template
        return None
    text = " ".join(text.split()) if "\n" in text else text
    return text if text.strip() or not latex.strip() else None


@functools.lru_cache(maxsize=1)
def _converter():

    from pylatexenc.latex2text import LatexNodes2Text, MacroTextSpec, get_default_latex_context_db

    # It logs a warning per malformed macro (hostile text can hold thousands); we keep those as written.
    logging.getLogger("pylatexenc").setLevel(logging.ERROR)
    context = get_default_latex_context_db()
    # latex2text's own: \frac{a+b}{c} -> "a+b/c" (another number) and \|x\| -> "x" (the norm gone).
    # \sqrt[3]{x} -> "√(x)" (a cube root read as a square one), \overline{AB} -> "AB" (the bar gone).
    context.add_context_category(
        "tracker",
        prepend=True,
        macros=[
            MacroTextSpec("frac", simplify_repl=_fraction),
            MacroTextSpec("|", simplify_repl="\u2016"),
            MacroTextSpec("sqrt", simplify_repl=_root),
            MacroTextSpec("overline", simplify_repl=_marked("\u0305")),
            MacroTextSpec("underline", simplify_repl=_marked("\u0332")),
        ],
    )
    return LatexNodes2Text(
        latex_context=context, math_mode="text", strict_latex_spaces="based-on-source"
    )  # "X \\sim N": "X ∼ N", not "X ∼N"


_ATOM = re.compile(r"[\w.]+|\([^()]*\)")  # needs no parentheses around it as a numerator or denominator


def _fraction(node, l2tobj) -> str:
    """`\\frac{a+b}{c}` as "(a+b)/c"; `\\frac{1}{2}` as "1/2"."""
    args = node.nodeargd.argnlist[-2:] if node.nodeargd else []
    if len(args) != 2 or None in args:
        raise ValueError("\\frac without its two arguments")  # left as written
    parts = [l2tobj.nodelist_to_text([arg]).strip() for arg in args]
    return "/".join(part if _ATOM.fullmatch(part) else f"({part})" for part in parts)


def _root(node, l2tobj) -> str:
    """`\\sqrt{x}` as "√(x)", `\\sqrt[3]{x}` as "∛(x)"; another index is left as written."""
    index, body = (node.nodeargd.argnlist if node.nodeargd else [None, None])[-2:]
    if body is None:
        raise ValueError("\\sqrt without its argument")
    sign = {None: "√", "3": "∛", "4": "∜"}.get(index and l2tobj.nodelist_to_text([index]).strip())
    if sign is None:
        raise ValueError("a root of another index")
    return f"{sign}({l2tobj.nodelist_to_text([body]).strip()})"


def _marked(mark: str):
    """`\\overline{AB}` as "A̅B̅": the combining mark on every character."""

    def repl(node, l2tobj) -> str:
        args = node.nodeargd.argnlist if node.nodeargd else []
        if not args or args[-1] is None:
            raise ValueError("a mark without its argument")
        return "".join(char + mark for char in l2tobj.nodelist_to_text([args[-1]]).strip() if not char.isspace())

    return repl


@functools.lru_cache(maxsize=1)
def _known_macros() -> frozenset[str]:
    from pylatexenc.latex2text import get_default_latex_context_db

    return frozenset(spec.macroname for spec in get_default_latex_context_db().iter_macro_specs())
