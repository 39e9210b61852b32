"""Escaping per destination: paper text is hostile until escaped for where it lands.

One function per context a template can put text in (registered as Jinja filters):

- `md_text`: Markdown inline text (paragraphs, list items, headings, link text).
- `md_cell`: a GFM table cell. `md_text` already escapes `|`, so the two are the same today;
  templates still say `md_cell` in tables so the intent survives a change of rules.
- `html_text`: text inside a raw HTML block, e.g. a `<details>` that starts its own line. cmark
  does no Markdown there (`\\$` would show its backslash), so this HTML-escapes, exactly once.
  NB a `<details>` *inside a table cell* is inline HTML: the text between its tags is Markdown
  again, so cells always take `md_cell`.
- `md_label`: text inside a link's brackets (as `md_text`, without making links of URLs).
- `md_link`: `[text](url)`, a link only when `tracker.render.links.safe_url` accepts the URL.

URLs in Markdown text: cmark-gfm's autolinker reads the raw source, so a backslash escape inside
a URL would show (and end up in the href). So `md_text` makes each URL in the text an explicit
link to its `safe_url` form (or plain text when refused: other schemes, GitHub threads) and
turns the autolinker off everywhere else by escaping the `:` of `://` and the `.` of `www.`.

All of them first flatten the text to one display line (`display_line`): whitespace runs and
line breaks become one space (a newline would end a table row or an HTML block), and characters
nobody can see but that change what is shown (C0/C1 controls, bidi embeddings/overrides/isolates,
lone surrogates) are dropped. That is idempotent with the ledger's normalisation.

What GitHub does beyond cmark-gfm, and how each is kept from changing the text:

- Math: `$...$` becomes MathJax, and a backslash does not stop it outside math. GitHub's
  documented way to show a literal dollar is `<span>$</span>`; every `$` is written so.
- Mentions and cross-references: `@login`, `@org/team`, `#123`, `owner/repo#1`, `GH-7` notify
  people or add timeline events to other repositories. A ZERO WIDTH SPACE (U+200B) goes right
  after the `@`/`#`/`GH-` (Renovate's technique, as `&#8203;`; we write the character itself so
  the source holds no `#8203` either): the reader sees the same text, and neither the source
  nor the rendered text has `@` or `#` followed by a login or number any more, whichever of the
  two GitHub scans and however it merges text nodes. (The ledger strips zero-width characters
  from stored text; this mark is added at render time, after that.)
- Issue/PR/discussion URLs (`github.com/o/r/issues/1`) add a cross-reference too: they never
  become links, and a ZWSP after the `/` before `issues` keeps GitHub from reading them as one.
  Link destinations write `@` as `%40`, so no href holds an `@login` run either.
- Emoji shortcodes (`:rocket:`) become pictures: a ZWSP after the first colon keeps the text.
- Commit-SHA-like hex words are left alone: GitHub links them only when the commit exists in
  this repository, and that notifies nobody.
"""

from __future__ import annotations

import html
import re

from tracker.render.links import link_target, safe_url, trim_url

ZWSP = "\u200b"  # invisible; breaks GitHub's @mention, #ref and :emoji: patterns
DOLLAR = "<span>$</span>"  # GitHub's documented literal dollar (no math)

# Invisible characters that change how the following text is shown, or are not text at all.
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Line breaks and whitespace runs, including the Unicode line/paragraph separators and NEL.
# Other Unicode spaces (no-break space, thin space...) are kept: they are visible layout choices.
_SPACES = re.compile(r"[ \t\n\r\f\v\x1c-\x1f\x85\u2028\u2029]+")

# Where GitHub would act on the text (see the module docstring). Order matters: first match wins.
_GITHUB = (
    r"(?P<dollar>\$)"
    r"|(?P<mention>[@#](?=\w)|(?i:\bgh-)(?=\d))"
    r"|(?P<ghurl>/)(?=(?i:issues|pull|discussions)/)"
    r"|(?P<emoji>:)(?=[\w+-]+:)"
)
# Markdown: backslash-escape every character that can start inline markup, entities or HTML,
# plus `|` (tables), `~` (strikethrough) and `#` (a heading's closing run would eat "C #").
# Any ASCII punctuation may be escaped in CommonMark. The `:` of `://` and the `.` of `www.`
# keep cmark-gfm's autolinker off (see above).
_MD = re.compile(_GITHUB + r"|(?P<md>[\\`*_\[\]<>&|~#]|:(?=//)|(?<=www)\.)", re.IGNORECASE)
# A URL in paper text, as far as it could go; `trim_url` then drops sentence punctuation.
_TEXT_URL = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_HTML = re.compile(_GITHUB + r"|(?P<html>[&<>\"'])")
_GITHUB_REPO_BEFORE = re.compile(r"(?i:github\.com)/[\w.-]+/[\w.-]+$")
# A value at the start of a line must not open a block: a list item ("- x", "+ x", "1. x",
# "2) x") or a setext underline / thematic break ("---", "= ="). `#`, `>`, `<`, `*`, `_`, `|`,
# backticks and `~` are escaped wherever they are; "2611.00450" or "-0.5" stay as they are.
_MD_LINE_START = re.compile(r"^(?:[-+](?=[ \t]|$)|\d{1,9}(?=[.)](?:[ \t]|$))|[-=][-= \t]*$)")


def display_line(text: object) -> str:
    """`text` as one line of visible characters (None -> "")."""
    if text is None:
        return ""
    cleaned = _INVISIBLE.sub("", str(text))
    return _SPACES.sub(" ", cleaned).strip()


def md_text(text: object) -> str:
    """Markdown inline text whose rendering shows exactly `text` (flattened to one line).

    URLs in it become links when `link_target` accepts them; never put the result inside link
    text (links do not nest): use `md_link` for that.
    """
    line = display_line(text)
    parts, done = [], 0
    for match in _TEXT_URL.finditer(line):
        url = trim_url(match.group(0))
        href = link_target(url)
        if href is None:
            continue
        parts += [_md_escape(line, done, match.start()), _link(_md_escape(url), href)]
        done = match.start() + len(url)
    parts.append(_md_escape(line, done))
    return _guard_line_start(line, "".join(parts))


def _md_escape(line: str, start: int = 0, end: int | None = None) -> str:
    """`line[start:end]` escaped, its lookaheads seeing the whole line: an "@" right before a URL
    that becomes a link still reads as "@h..." to whoever joins the text nodes, so it is marked."""
    end = len(line) if end is None else end
    out, done = [], start
    for match in _MD.finditer(line, start):
        if match.start() >= end:
            break
        out += [line[done : match.start()], _md_replace(match)]
        done = match.end()
    out.append(line[done:end])
    return "".join(out)


def _guard_line_start(line: str, escaped: str) -> str:
    start = _MD_LINE_START.match(line)
    if start and escaped.startswith(start.group(0)):
        # "1." / "1)": escape the delimiter after the digits; "-", "+", "=": the character itself.
        cut = len(start.group(0))
        escaped = escaped[:cut] + "\\" + escaped[cut:] if start.group(0)[0].isdigit() else "\\" + escaped
    return escaped


def md_cell(text: object) -> str:
    """A GFM table cell's text: `md_text`, whose `|` are already escaped."""
    return md_text(text)


def html_text(text: object) -> str:
    """Text inside a raw HTML block (`<details>` on its own line): HTML-escaped exactly once."""
    return _HTML.sub(_html_replace, display_line(text))


def md_label(text: object) -> str:
    """Markdown text for inside a link's brackets: as `md_text`, but URLs stay text (links do
    not nest). E.g. `[{{ t.name | md_label }}](#{{ t.anchor }})`."""
    line = display_line(text)
    return _guard_line_start(line, _md_escape(line))


def md_link(text: object, url: object) -> str:
    """`[text](url)` when `url` is a well-formed http(s) URL, else the text alone; safe in a cell.

    `text` is raw, e.g. `{{ p.title | md_link(p.abs_url) }}`. An empty text reads "(untitled)":
    an empty label would leave a dead link, or `****` in the reader's face.
    """
    label = md_label(text) or "(untitled)"
    href = safe_url(url if isinstance(url, str) else None)
    return label if href is None else _link(label, href)


def _link(label_markdown: str, href: str) -> str:
    # Parentheses are legal in a destination when balanced; encoding them keeps that trivially so.
    # `@` as %40: no `@login` run in the source, in case GitHub ever looks there.
    return f"[{label_markdown}]({href.replace('(', '%28').replace(')', '%29').replace('@', '%40')})"


def _github_replace(match: re.Match) -> str | None:
    """The replacement for what GitHub would act on; None for plain markup characters."""
    kind = match.lastgroup
    if kind == "dollar":
        return DOLLAR
    if kind in ("mention", "emoji"):  # "@", "#", "gh-", ":": plain in both contexts
        return match.group(0) + ZWSP
    if kind == "ghurl":
        before = match.string[max(0, match.start() - 300) : match.start()]
        return "/" + ZWSP if _GITHUB_REPO_BEFORE.search(before) else "/"
    return None


def _md_replace(match: re.Match) -> str:
    replaced = _github_replace(match)
    if replaced is not None:
        return replaced
    # A backslash as an entity, not `\\`: no escaped character then follows a backslash, so
    # `\]`, `\|` and `\(` in our output always mean the escaped character (simpler for
    # anything that reads our Markdown back, e.g. the publisher's task-list parser).
    return "&#x5C;" if match.group(0) == "\\" else "\\" + match.group(0)


def _html_replace(match: re.Match) -> str:
    replaced = _github_replace(match)
    return replaced if replaced is not None else html.escape(match.group(0), quote=True)


# What GitHub would act on in Markdown that was NOT rendered by these filters just now (a digest
# written by an older version, a hand-edited page): `@login`, `#12` (but not the entity `&#12;` or
# an in-page link `](#2024-topic)`), `GH-7`, and issue/PR/discussion URLs, link destinations included.
_LIVE_IN_MARKDOWN = re.compile(
    r"@(?=[A-Za-z0-9])|(?<!&)(?<!\]\()#(?=\d)|(?i:\bgh-)(?=\d)"
    r"|(?i:github\.com/[\w.-]+/[\w.-]+/)(?=(?i:issues|pull|discussions)/)"
)


def neutralise_references(markdown: str) -> str:
    """Markdown about to be sent to GitHub, with a ZWSP after anything that would still ping or
    cross-reference: the last line of defence at the edge. Idempotent, and a no-op on what these
    filters render (they already leave no such run), so the text reads the same."""
    return _LIVE_IN_MARKDOWN.sub(lambda m: m.group(0) + ZWSP, markdown)


FILTERS = {"md_text": md_text, "md_cell": md_cell, "md_label": md_label, "html_text": html_text, "md_link": md_link}
