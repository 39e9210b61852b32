"""Issues the tracker keeps on GitHub: one per day (digest) or per ISO week (weekly review).

Every public function takes a PyGithub `Repository` built by `client.connect()` at the edge, so
tests hand in one pointed at a loopback fake. Design for partial failure: each publish recomputes
the wanted state (issue body + continuation comments) and reconciles what GitHub has toward it,
so a run interrupted midway is completed by the next one instead of leaving a second issue.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from tracker.publish.client import Api
from tracker.publish.split import GITHUB_BODY_LIMIT, split_markdown
from tracker.publish.tasks import as_task_list, carry_ticks, task_items
from tracker.render.escape import neutralise_references

log = logging.getLogger(__name__)

_MARKER_OVERHEAD = 200  # room kept in each part for the marker and "(continued n/m)" lines
LABEL_COLORS = {"digest": "0e8a16", "weekly": "1d76db", "tracker-health": "d93f0b"}


@dataclass(frozen=True)
class IssueKind:
    """One family of issues: how its issues are marked, titled and keyed (a date or an ISO week)."""

    name: str
    mark: str  # hidden first line of the issue body, with {key}
    part_mark: str  # hidden first line of each continuation comment, with {key}
    title_re: re.Pattern[str]  # finds the key in a title whose marker a human edited away
    tasks: bool  # papers become task-list items (members tick what they liked)

    @cached_property
    def _mark_re(self) -> re.Pattern[str]:
        return re.compile(re.escape(self.mark).replace(re.escape("{key}"), r"([\w-]+)"))

    def key_of(self, issue: Any) -> str | None:
        """The date or week an issue is for: hidden body marker first, title as a fallback."""
        found = self._mark_re.search(issue.body or "") or self.title_re.match(issue.title or "")
        return found.group(1) if found else None


DIGEST = IssueKind(
    "digest", "<!-- paper-tracker:digest date={key} -->", "<!-- paper-tracker:digest-part date={key} -->",
    re.compile(r"^arXiv digest (\d{4}-\d{2}-\d{2})\b"), tasks=True,
)
WEEKLY = IssueKind(
    "weekly", "<!-- paper-tracker:weekly week={key} -->", "<!-- paper-tracker:weekly-part week={key} -->",
    re.compile(r"^Weekly review (\d{4}-W\d{2})\b"), tasks=False,
)


@dataclass(frozen=True)
class PublishResult:
    """What a publish did. action: created | updated | unchanged | skipped."""

    action: str
    number: int | None = None
    url: str | None = None
    parts: int = 0  # issue body + continuation comments
    closed: tuple[int, ...] = ()  # earlier issues of the kind closed by this publish


def issue_parts(kind: IssueKind, key: str, body: str, limit: int = GITHUB_BODY_LIMIT) -> list[str]:
    """The issue body followed by continuation comment bodies, each carrying its marker.

    The body may have been read from disk (a digest an older version wrote, a page edited by
    hand): whatever would still ping someone or cross-reference a thread is neutralised here."""
    chunks = split_markdown(neutralise_references(body), limit - _MARKER_OVERHEAD) or [""]
    total = len(chunks)
    mark, part_mark = kind.mark.format(key=key), kind.part_mark.format(key=key)
    if total == 1:
        return [f"{mark}\n{chunks[0]}\n"]
    parts = [f"{mark}\n{chunks[0]}\n\n*(continued below: part 1/{total})*\n"]
    for n, chunk in enumerate(chunks[1:], start=2):
        parts.append(f"{part_mark}\n*(continued {n}/{total})*\n\n{chunk}\n")
    return parts


def publish_issue(
    repo: Any, kind: IssueKind, *, key: str, title: str, body: str, label: str, limit: int = GITHUB_BODY_LIMIT
) -> PublishResult:
    """Open or update the issue for `key` (+ continuation comments), then close earlier ones.

    Idempotent: the issue is found by its hidden marker (or the key in its title), edited only
    when different, and our continuation comments edited/created/deleted to match. Ticks members
    made in an issue being updated are carried over.
    """
    api = Api(repo)
    ensure_label(repo, label, api)
    open_issues = api.call(f"listing open {kind.name} issues", lambda: list_issues(repo, "open", label))
    issue = _find(kind, open_issues, key) or api.call(
        f"looking for a closed {kind.name} issue", lambda: _find(kind, list_issues(repo, "closed", label), key)
    )
    ours = [] if issue is None else our_comments(api, issue, kind.part_mark.format(key=key))
    if kind.tasks:
        body = as_task_list(body)
        if issue is not None:
            body = carry_ticks(body, ticked_in([issue.body or "", *(c.body or "" for c in ours)]))
    parts = issue_parts(kind, key, body, limit)
    if issue is None:
        issue = api.call(f"opening the {kind.name} issue", lambda: repo.create_issue(title=title, body=parts[0], labels=[label]))
        action = "created"
    elif issue.title != title or issue.body != parts[0]:
        api.call(f"updating {kind.name} issue #{issue.number}", lambda: issue.edit(title=title, body=parts[0]))
        action = "updated"
    else:
        action = "unchanged"
    if _reconcile_comments(api, issue, ours, parts[1:]) and action == "unchanged":
        action = "updated"
    closed = _close_earlier(api, kind, open_issues, key, issue.number)
    log.info("%s issue #%s for %s %s (%d parts)", kind.name, issue.number, key, action, len(parts))
    return PublishResult(action, issue.number, issue.html_url, len(parts), tuple(closed))


def ticked_in(texts: Iterable[str]) -> set[str]:
    return {item.paper for text in texts for item in task_items(text) if item.checked and item.paper}


def ensure_label(repo: Any, name: str, api: Api | None = None) -> None:
    api = api or Api(repo)
    if api.call(f"reading label {name!r}", lambda: repo.get_label(name), missing_ok=True) is None:
        color = LABEL_COLORS.get(name, "ededed")
        api.call(f"creating label {name!r}", lambda: repo.create_label(name, color, "paper-tracker"))


def has_label(repo: Any, name: str, api: Api | None = None) -> bool:
    api = api or Api(repo)
    return api.call(f"reading label {name!r}", lambda: repo.get_label(name), missing_ok=True) is not None


def list_issues(repo: Any, state: str, label: str, since: Any = None) -> list[Any]:
    """Issues (not pull requests) with `label`, newest first; `since` = updated at or after."""
    from github.GithubObject import NotSet

    issues = repo.get_issues(state=state, labels=[label], sort="created", direction="desc", since=since or NotSet)
    return [i for i in issues if i.pull_request is None]


def our_comments(api: Api, issue: Any, part_mark: str) -> list[Any]:
    """Our continuation comments on `issue`, in order: marked, and written by whoever opened it."""
    author = _login(issue)
    comments = api.call(f"listing comments of #{issue.number}", lambda: list(issue.get_comments()))
    return [c for c in comments if part_mark in (c.body or "") and _login(c) == author]


def _login(item: Any) -> str | None:
    user = getattr(item, "user", None)
    return getattr(user, "login", None)


def _find(kind: IssueKind, issues: Iterable[Any], key: str) -> Any | None:
    return next((i for i in issues if kind.key_of(i) == key), None)


def _reconcile_comments(api: Api, issue: Any, ours: list[Any], wanted: list[str]) -> bool:
    """Make our marked comments equal `wanted`, in order; never touches other people's comments."""
    changed = False
    for comment, body in zip(ours, wanted):
        if comment.body != body:
            api.call(f"editing comment {comment.id}", lambda c=comment, b=body: c.edit(b))
            changed = True
    for body in wanted[len(ours) :]:
        api.call(f"adding a comment to #{issue.number}", lambda b=body: issue.create_comment(b))
        changed = True
    for comment in ours[len(wanted) :]:
        api.call(f"deleting comment {comment.id}", lambda c=comment: c.delete())
        changed = True
    return changed


def _close_earlier(api: Api, kind: IssueKind, open_issues: list[Any], key: str, keep: int) -> list[int]:
    closed = []
    for issue in open_issues:
        other = kind.key_of(issue)
        if issue.number != keep and other is not None and other < key:
            api.call(f"closing earlier {kind.name} issue #{issue.number}", lambda i=issue: i.edit(state="closed"))
            closed.append(issue.number)
    return closed
