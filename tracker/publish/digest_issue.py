"""The daily digest issue and the weekly review issue: titles, bodies, publishing.

The body of the daily issue is the rendered digest (already escaped for GitHub by the templates)
without its collapsed blocks, inside templates/issue.md.j2; each paper in it becomes a task-list
item (see `tasks`). Text built here in Python (titles, failure messages) is escaped on the way
in, like template values.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tracker.errors import TrackerError
from tracker.publish.issues import DIGEST, WEEKLY, PublishResult, publish_issue
from tracker.publish.split import GITHUB_BODY_LIMIT
from tracker.redact import redact

log = logging.getLogger(__name__)

WEEKLY_LABEL = "weekly"
WEEKLY_HEADING = re.compile(r"^# Weekly review (\d{4}-W\d{2})\s*$")
_UNSEEN = re.compile(r"\\|&#8203;|\u200b|</?span>")  # marks our escaping adds; invisible to readers
# A collapsed block of the digest page (abstract, authors, comment) with the blank line before it.
# Text inside is HTML-escaped (tracker.render.escape.html_text), so it cannot hold `</details>`.
_COLLAPSED = re.compile(r"\n?[ \t]*<details>.*?</details>[ \t]*(?=\n|$)", re.DOTALL)


def digest_title(date: str, new_count: int) -> str:
    if new_count == 0:
        return f"arXiv digest {date}: no new papers"
    return f"arXiv digest {date}: {new_count} new paper{'s' if new_count != 1 else ''}"


def render_issue_body(
    *,
    date: str,
    new_count: int,
    revised_count: int,
    digest_markdown: str,
    digest_url: str | None = None,
    failures: Sequence[tuple[str, str]] = (),
    template_dir: Path | None = None,
) -> str:
    """Render issue.md.j2; `template_dir` holds user overrides, as for the other templates.

    `failures` (topic, arXiv's message) are named unless the digest already shows them, so the
    issue never says "nothing new" about a day whose topics failed, and never says it twice.
    """
    from tracker.render.escape import FILTERS
    from tracker.render.markdown import environment

    env = environment(template_dir)
    env.filters.update(FILTERS)
    return env.get_template("issue.md.j2").render(
        date=date,
        new_count=new_count,
        revised_count=revised_count,
        digest_markdown=without_collapsed(digest_markdown).strip("\n"),
        digest_url=digest_url,
        failures=unshown_failures(digest_markdown, failures),
    )


def without_collapsed(digest_markdown: str) -> str:
    """The digest page without its `<details>` blocks: what the issue shows.

    The issue arrives by email, and many mail clients ignore `<details>` and show every abstract
    (10,000 words on a 50-paper day). So the issue carries each paper's title, TL;DR and one line
    of metadata; the abstracts stay one click away on the digest page and on arXiv."""
    return _COLLAPSED.sub("", digest_markdown)


def unshown_failures(digest_markdown: str, failures: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (topic, redacted message) pairs whose message the digest does not already show."""
    from tracker.render.escape import display_line

    shown = _visible(digest_markdown)
    out = []
    for topic, message in failures:
        topic, message = display_line(redact(topic)), display_line(redact(message))
        if _visible(message)[:80] not in shown:
            out.append((topic, message))
    return out


def _visible(text: str) -> str:
    return " ".join(_UNSEEN.sub("", text).split())


def publish_digest(
    repo: Any,
    *,
    date: str,
    new_count: int,
    revised_count: int,
    digest_markdown: str,
    digest_url: str | None = None,
    failures: Sequence[tuple[str, str]] = (),
    label: str = "digest",
    empty_day: str = "skip",
    limit: int = GITHUB_BODY_LIMIT,
    template_dir: Path | None = None,
) -> PublishResult:
    """Open or update the day's digest issue (+ continuation comments), then close earlier ones."""
    if empty_day not in ("skip", "issue"):
        raise TrackerError(f"publish.empty_day must be 'skip' or 'issue', not {empty_day!r}")
    if new_count == 0 and revised_count == 0 and empty_day == "skip":
        log.info("no new or revised papers on %s; not opening an issue (empty_day: skip)", date)
        return PublishResult("skipped")
    body = render_issue_body(
        date=date,
        new_count=new_count,
        revised_count=revised_count,
        digest_markdown=digest_markdown if new_count or revised_count else "",
        digest_url=digest_url,
        failures=failures,
        template_dir=template_dir,
    )
    return publish_issue(
        repo,
        DIGEST,
        key=date,
        title=digest_title(date, new_count),
        body=body,
        label=label,
        limit=limit,
        full_url=digest_url,
    )


def weekly_week(page: str) -> str | None:
    """The ISO week (`2026-W48`) a weekly review page is for, read from its first line."""
    first = page.split("\n", 1)[0]
    found = WEEKLY_HEADING.match(first)
    return found.group(1) if found else None


def publish_weekly(
    repo: Any, *, page: str, week: str, label: str = WEEKLY_LABEL, limit: int = GITHUB_BODY_LIMIT
) -> PublishResult:
    """Open or update the week's review issue from its page; close earlier weekly issues."""
    if weekly_week(page) != week:
        raise TrackerError(f"the weekly review page does not start with '# Weekly review {week}'")
    body = page.split("\n", 1)[1] if "\n" in page else ""
    return publish_issue(
        repo, WEEKLY, key=week, title=f"Weekly review {week}", body=body.strip("\n"), label=label, limit=limit
    )
