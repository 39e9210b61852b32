"""Code and project links in an abstract or comment (GitHub, GitLab, Hugging Face, Bitbucket, project pages)."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

# Hosts whose links point at code, models or data.
_CODE_HOSTS = ("github.com", "gitlab.com", "huggingface.co", "hf.co", "bitbucket.org", "codeberg.org")
# Static-site hosts used for project pages.
_PAGE_HOST_SUFFIXES = (".github.io", ".gitlab.io", ".pages.dev", ".netlify.app", ".vercel.app")
# Papers, DOIs and videos are not code even when announced as "available at".
_NOT_CODE_HOSTS = ("arxiv.org", "doi.org", "youtube.com", "youtu.be", "vimeo.com")
# Other URLs count when the text just before them says what they are.
_PAGE_CUE = re.compile(r"\b(project|code|demo|website|homepage|page|repository|repo|available|released)\b[^.\n]{0,25}$",
                       re.IGNORECASE)

# LaTeX markup first (\url{...}, \href{...}{...}), then bare URLs with or without a scheme.
_LATEX_URL = re.compile(r"\\(?:url|href)\s*\{([^}\s]+)\}")
_URL = re.compile(
    r"(?:https?://|www\.|(?<![\w.@/-])(?:github\.com|gitlab\.com|huggingface\.co|bitbucket\.org)/)[^\s<>\"'{}\\]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?'\"*"
_CLOSERS = {")": "(", "]": "[", "}": "{"}


def find_code_links(text: str | None) -> list[str]:
    """Code/project URLs in `text`, in order of appearance, without duplicates or trailing punctuation."""
    if not text:
        return []
    found: dict[str, str] = {}
    for start, url in _candidates(text):
        url = _trim(url)
        if _is_code_link(url, text[max(0, start - 40):start]):
            found.setdefault(url.lower().rstrip("/"), url)
    return list(found.values())


def _candidates(text: str) -> list[tuple[int, str]]:
    latex = [(m.start(), m.group(1)) for m in _LATEX_URL.finditer(text)]
    stripped = _LATEX_URL.sub(lambda m: " " * len(m.group(0)), text)  # keep offsets for the cue check
    bare = [(m.start(), m.group(0)) for m in _URL.finditer(stripped)]
    return sorted(latex + bare)


def _trim(url: str) -> str:
    """Drop sentence punctuation and unbalanced closing brackets the URL got glued to."""
    while url:
        last = url[-1]
        if last in _TRAILING:
            url = url[:-1]
        elif last in _CLOSERS and url.count(last) > url.count(_CLOSERS[last]):
            url = url[:-1]
        else:
            break
    return url


def _is_code_link(url: str, before: str) -> bool:
    full = url if "://" in url else f"https://{url}"
    host = (urlsplit(full).hostname or "").lower().removeprefix("www.")
    path = urlsplit(full).path.strip("/")
    if host in _CODE_HOSTS:
        return bool(path)  # a bare "github.com" names no repository
    if host.endswith(_PAGE_HOST_SUFFIXES):
        return True
    if host.endswith(_NOT_CODE_HOSTS):
        return False
    return bool(_PAGE_CUE.search(before))
