"""Which URLs may become links: `safe_url` for any URL we link to, and the code/project links
found in an abstract or comment (GitHub, GitLab, Hugging Face, Bitbucket, project pages)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urlsplit

# Hosts whose links point at code, models or data.
_CODE_HOSTS = ("github.com", "gitlab.com", "huggingface.co", "hf.co", "bitbucket.org", "codeberg.org")
# Static-site hosts used for project pages.
_PAGE_HOST_SUFFIXES = (".github.io", ".gitlab.io", ".pages.dev", ".netlify.app", ".vercel.app")
# Papers, DOIs and videos are not code even when announced as "available at".
_NOT_CODE_HOSTS = ("arxiv.org", "doi.org", "youtube.com", "youtu.be", "vimeo.com")
# Other URLs count when the text just before them says what they are.
_PAGE_CUE = re.compile(
    r"\b(project|code|demo|website|homepage|page|repository|repo|available|released)\b[^.\n]{0,25}$", re.IGNORECASE
)

# LaTeX markup first (\url{...}, \href{...}{...}), then bare URLs with or without a scheme.
_LATEX_URL = re.compile(r"\\(?:url|href)\s*\{([^}\s]+)\}")
_URL = re.compile(
    r"(?:https?://|www\.|(?<![\w.@/-])(?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org)/)[^\s<>\"'`{}\\]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"*_~"
_CLOSERS = {")": "(", "]": "[", "}": "{"}
# On GitHub these pages are discussions, not code, and linking them from an issue adds a
# cross-reference to a stranger's issue.
_GITHUB_THREAD = re.compile(r"^[^/]+/[^/]+/(?:issues|pull|pulls|discussions)(?:/|$)", re.IGNORECASE)

# --- safe_url -----------------------------------------------------------------------------
# Refused outright: anything that could end a Markdown link or an HTML attribute, or hide
# what the URL really is (whitespace, controls, quotes, angle brackets, backticks, backslash).
_REJECT = re.compile(r"[\x00-\x20\x7f-\x9f\"'<>`\\\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff]")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PCT_STRAY = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PATH_SAFE = "/:@!$&*+,;=-._~()%"  # RFC 3986 pchar + "/", kept as they are; the rest is %-encoded


def safe_url(url: str | None) -> str | None:
    """`url` as a well-formed absolute http(s) URL safe in any link, or None.

    None for other schemes (javascript:, data:, ...), userinfo (`https://github.com@evil.example`),
    hosts that are not DNS names, unbalanced brackets and the characters in `_REJECT`. Anything
    else that is not allowed in a URL (non-ASCII, `[ ] { } | ^`, a stray `%`) is percent-encoded;
    non-ASCII host names become IDNA. Idempotent.
    """
    if not url or _REJECT.search(url) or not _balanced(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    if parts.scheme.lower() not in ("http", "https") or "@" in parts.netloc or not _is_dns_name(host):
        return None
    netloc = host + (f":{port}" if port is not None else "")
    out = f"{parts.scheme.lower()}://{netloc}{_encode(parts.path, _PATH_SAFE)}"
    if parts.query:
        out += "?" + _encode(parts.query, _PATH_SAFE + "?")
    if parts.fragment:
        out += "#" + _encode(parts.fragment, _PATH_SAFE + "?")
    return out


def link_target(url_text: str) -> str | None:
    """Where a URL written in paper text may link to: `safe_url`, `https://` assumed when there is
    no scheme (`www.x.org`), and never a GitHub issue, pull request or discussion (a link to one
    from our issue would add a cross-reference to that stranger's thread)."""
    href = safe_url(url_text if "://" in url_text else f"https://{url_text}")
    if href is None or is_github_thread(href):
        return None
    return href


def is_github_thread(url: str) -> bool:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    return host == "github.com" and bool(_GITHUB_THREAD.match(parts.path.strip("/")))


def _balanced(url: str) -> bool:
    for closer, opener in _CLOSERS.items():
        depth = 0
        for char in url:
            depth += (char == opener) - (char == closer)
            if depth < 0:
                return False
        if depth:
            return False
    return True


def _is_dns_name(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    return len(labels) >= 2 and all(_HOST_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def _encode(part: str, safe: str) -> str:
    return quote(_PCT_STRAY.sub("%25", part), safe=safe)


# --- code links ---------------------------------------------------------------------------


def find_code_links(text: str | None) -> list[str]:
    """Code/project URLs in `text`, in order of appearance, without duplicates or trailing punctuation.

    Each is absolute (`github.com/a/b` -> `https://github.com/a/b`) and passed `safe_url`.
    """
    if not text:
        return []
    found: dict[str, str] = {}
    for start, url in _candidates(text):
        url = trim_url(url)
        safe = safe_url(url if "://" in url else f"https://{url}")
        if safe and _is_code_link(safe, text[max(0, start - 40) : start]):
            found.setdefault(safe.lower().rstrip("/"), safe)
    return list(found.values())


def _candidates(text: str) -> list[tuple[int, str]]:
    latex = [(m.start(), m.group(1)) for m in _LATEX_URL.finditer(text)]
    stripped = _LATEX_URL.sub(lambda m: " " * len(m.group(0)), text)  # keep offsets for the cue check
    bare = [(m.start(), m.group(0)) for m in _URL.finditer(stripped)]
    return sorted(latex + bare)


def trim_url(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets the URL got glued to.

    Trailing ASCII `.,;:!?'"*_~` (as GitHub's autolinker) and any non-ASCII punctuation or
    symbol (`。`, `，`, `…`, `”`, `）`) end a sentence, not a URL.
    """
    while url:
        last = url[-1]
        if last in _TRAILING or (not last.isascii() and unicodedata.category(last)[0] in "PS"):
            url = url[:-1]
        elif last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last]):
            url = url[:-1]
        else:
            break
    return url


def _is_code_link(url: str, before: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().removeprefix("www.")
    path = urlsplit(url).path.strip("/")
    if is_github_thread(url):
        return False
    if host in _CODE_HOSTS:
        return bool(path)  # a bare "github.com" names no repository
    if host.endswith(_PAGE_HOST_SUFFIXES):
        return True
    if host.endswith(_NOT_CODE_HOSTS):
        return False
    return bool(_PAGE_CUE.search(before))
