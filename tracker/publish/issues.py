"""Issues the tracker keeps on GitHub: one per day (digest) or per ISO week (weekly review).

Every public function takes a PyGithub `Repository` built by `client.connect()` at the edge, so
tests hand in one pointed at a loopback fake. Design for partial failure: each publish recomputes
the wanted state (issue body + continuation comments) and reconciles what GitHub has toward it,
so a run interrupted midway is completed by the next one instead of leaving a second issue.

Only the bot's own issues are touched: an issue is ours when the bot opened it (see `identity`)
AND its body carries the hidden marker; a member's issue titled like a digest, or quoting the
marker, is never edited, closed or read for ticks. They are found by label and by creator, so
deleting the label by hand loses nothing (the label is put back on the next publish).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any

from github.GithubException import GithubException

from tracker.publish.client import Api
from tracker.publish.identity import bot_login, learn_from_created, same_login
from tracker.publish.split import GITHUB_BODY_LIMIT, split_blocks
from tracker.publish.tasks import as_task_list, carry_ticks, task_items
from tracker.render.escape import md_link, neutralise_references

log = logging.getLogger(__name__)

_MARKER_OVERHEAD = 600  # room kept in each part for the markers, "(continued n/m)" and a cut note
MAX_PARTS = 16  # issue body + 15 comments (~1 MB); a bigger day is cut, and the issue says so
LABEL_COLORS = {"digest": "0e8a16", "weekly": "1d76db", "tracker-health": "d93f0b"}


@dataclass(frozen=True)
class IssueKind:
    """One family of issues: how its issues are marked and keyed (a date or an ISO week)."""

    name: str
    mark: str  # hidden first line of the issue body, with {key}
    part_mark: str  # hidden first line of each continuation comment, with {key}
    tasks: bool  # papers become task-list items (members tick what they liked)

    @cached_property
    def _mark_re(self) -> re.Pattern[str]:
        return re.compile(re.escape(self.mark).replace(re.escape("{key}"), r"([\w-]+)"))

    def key_of(self, issue: Any) -> str | None:
        """The date or week an issue is for, from its hidden marker (None: not one of ours)."""
        found = self._mark_re.search(issue.body or "")
        return found.group(1) if found else None


DIGEST = IssueKind(
    "digest", "<!-- paper-tracker:digest date={key} -->", "<!-- paper-tracker:digest-part date={key} -->", tasks=True
)
WEEKLY = IssueKind(
    "weekly", "<!-- paper-tracker:weekly week={key} -->", "<!-- paper-tracker:weekly-part week={key} -->", tasks=False
)


@dataclass(frozen=True)
class PublishResult:
    """What a publish did. action: created | updated | unchanged | skipped."""

    action: str
    number: int | None = None
    url: str | None = None
    parts: int = 0  # issue body + continuation comments
    closed: tuple[int, ...] = ()  # earlier issues of the kind closed by this publish
    shortened: int = 0  # entries too long for GitHub, kept as their title line
    left_out: int = 0  # entries past MAX_PARTS, not in the issue (the digest page has them)


@dataclass(frozen=True)
class Parts:
    bodies: list[str]  # the issue body, then continuation comment bodies
    shortened: int = 0
    left_out: int = 0


def issue_parts(kind: IssueKind, key: str, body: str, limit: int = GITHUB_BODY_LIMIT, **options: Any) -> list[str]:
    """The issue body followed by continuation comment bodies, each carrying its marker."""
    return plan_parts(kind, key, body, limit, **options).bodies


def plan_parts(
    kind: IssueKind,
    key: str,
    body: str,
    limit: int = GITHUB_BODY_LIMIT,
    *,
    full_url: str | None = None,
    max_parts: int | None = None,
) -> Parts:
    """The parts to send, and what did not fit (named in the last part, linking `full_url`).

    The body may have been read from disk (a digest an older version wrote, a page edited by
    hand): whatever would still ping someone or cross-reference a thread is neutralised here."""
    split = split_blocks(neutralise_references(body), limit - _MARKER_OVERHEAD, max_parts or MAX_PARTS)
    chunks = split.chunks or [""]
    if split.shortened or split.left_out:
        chunks[-1] += "\n\n" + _cut_note(split.shortened, split.left_out, full_url)
    total = len(chunks)
    mark, part_mark = kind.mark.format(key=key), kind.part_mark.format(key=key)
    if total == 1:
        return Parts([f"{mark}\n{chunks[0]}\n"], split.shortened, split.left_out)
    parts = [f"{mark}\n{chunks[0]}\n\n*(continued below: part 1/{total})*\n"]
    for n, chunk in enumerate(chunks[1:], start=2):
        parts.append(f"{part_mark}\n*(continued {n}/{total})*\n\n{chunk}\n")
    return Parts(parts, split.shortened, split.left_out)


def _cut_note(shortened: int, left_out: int, full_url: str | None) -> str:
    said = []
    if left_out:
        said.append(f"{left_out} more entr{'y' if left_out == 1 else 'ies'} did not fit in this issue")
    if shortened:
        said.append(f"{shortened} entr{'y was' if shortened == 1 else 'ies were'} too long and shortened")
    where = (
        md_link("the full digest", full_url)
        if full_url and len(full_url) < 300
        else "the digest page in the repository"
    )
    return f"**Not everything fits in a GitHub issue:** {'; '.join(said)}. See {where}."


def publish_issue(
    repo: Any,
    kind: IssueKind,
    *,
    key: str,
    title: str,
    body: str,
    label: str,
    limit: int = GITHUB_BODY_LIMIT,
    full_url: str | None = None,
) -> PublishResult:
    """Open or update the bot's issue for `key` (+ continuation comments), then close earlier ones.

    Idempotent: the issue is found by author and hidden marker, edited only when different, and
    our continuation comments edited/created/deleted to match. Members' ticks are kept: each
    write re-reads what it replaces and carries its tick states over, paper by paper.
    """
    api = Api(repo)
    ensure_label(repo, label, api)
    mine = api.call(f"listing open {kind.name} issues", lambda: list(own_issues(repo, "open", label)))
    issue = _find(kind, mine, key) or api.call(
        f"looking for a closed {kind.name} issue",
        lambda: _find(kind, own_issues(repo, "closed", label, _not_before(key)), key),
    )
    planned = plan_parts(kind, key, as_task_list(body) if kind.tasks else body, limit, full_url=full_url)
    if issue is None:
        opened = lambda: loaded(repo.create_issue(title=title, body=planned.bodies[0], labels=[label]))  # noqa: E731
        issue = api.call(f"opening the {kind.name} issue", opened)
        learn_from_created(repo, issue)
        _reconcile_comments(api, issue, [], planned.bodies[1:], {})
        action = "created"
    else:
        action = _update(api, repo, kind, key, issue, title, label, planned.bodies)
    closed = _close_earlier(api, kind, mine, key, issue.number)
    log.info("%s issue #%s for %s %s (%d parts)", kind.name, issue.number, key, action, len(planned.bodies))
    return PublishResult(
        action, issue.number, issue.html_url, len(planned.bodies), tuple(closed), planned.shortened, planned.left_out
    )


def _update(
    api: Api, repo: Any, kind: IssueKind, key: str, issue: Any, title: str, label: str, parts: list[str]
) -> str:
    """Bring our issue and its comments to `parts`; 'updated' or 'unchanged'."""
    ours = our_comments(api, issue, kind.part_mark.format(key=key))
    states = tick_states([issue.body or "", *(c.body or "" for c in ours)]) if kind.tasks else {}
    changed = False
    if not _same(issue, title, label, with_ticks(parts[0], states)):
        fresh = api.call(f"re-reading issue #{issue.number}", lambda: loaded(repo.get_issue(issue.number)))
        states.update(tick_states([fresh.body or ""]) if kind.tasks else {})  # a tick made since we read wins
        wanted = with_ticks(parts[0], states)
        if not _same(fresh, title, label, wanted):
            labels = [lab.name for lab in fresh.labels if lab.name != label] + [label]
            api.call(
                f"updating {kind.name} issue #{issue.number}",
                lambda: fresh.edit(title=title, body=wanted, labels=labels),
            )
            changed = True
    changed = _reconcile_comments(api, issue, ours, parts[1:], states) or changed
    return "updated" if changed else "unchanged"


def loaded(issue: Any) -> Any:
    """`issue` with the fields we use read now: PyGithub checks a field's type only when it is
    read, and a server's odd answer must fail inside `Api.call` (one line), not later."""
    _ = issue.number, issue.title, issue.body, issue.html_url, issue.user, [lab.name for lab in issue.labels]
    return issue


def _same(issue: Any, title: str, label: str, body: str) -> bool:
    return issue.title == title and issue.body == body and label in {lab.name for lab in issue.labels}


def tick_states(texts: Iterable[str]) -> dict[str, bool]:
    """Paper id -> ticked, over `texts` (ticked anywhere wins)."""
    states: dict[str, bool] = {}
    for text in texts:
        for item in task_items(text):
            if item.paper:
                states[item.paper] = states.get(item.paper, False) or item.checked
    return states


def with_ticks(part: str, states: dict[str, bool]) -> str:
    return carry_ticks(part, {paper for paper, ticked in states.items() if ticked})


def ensure_label(repo: Any, name: str, api: Api | None = None) -> None:
    api = api or Api(repo)
    if api.call(f"reading label {name!r}", lambda: repo.get_label(name), missing_ok=True) is None:
        color = LABEL_COLORS.get(name, "ededed")
        api.call(f"creating label {name!r}", lambda: repo.create_label(name, color, "paper-tracker"))


def own_issues(repo: Any, state: str, label: str, since: Any = None) -> Iterator[Any]:
    """The bot's issues (not pull requests) with `label` or opened by the bot, each once, lazily.

    Two listings: by label (the usual case, cheap) and by creator (finds an issue whose label a
    member deleted); either way the author is checked here, whatever the server filtered."""
    from github.GithubObject import NotSet

    login = bot_login(repo)
    common = {"state": state, "sort": "created", "direction": "desc", "since": since or NotSet}
    seen: set[int] = set()
    for issue in _chain(repo.get_issues(labels=[label], **common), repo.get_issues(creator=login, **common), login):
        if issue.pull_request is None and same_login(_login(issue), login) and issue.number not in seen:
            seen.add(issue.number)
            yield loaded(issue)


def _chain(by_label: Iterable[Any], by_creator: Iterable[Any], login: str) -> Iterator[Any]:
    yield from by_label
    try:
        yield from by_creator
    except GithubException as exc:
        if exc.status != 422:  # a server that will not filter by this login: the labelled issues still count
            raise
        log.warning("GitHub cannot list issues by creator %r (422); finding the tracker's issues by label only", login)


def our_comments(api: Api, issue: Any, part_mark: str) -> list[Any]:
    """Our continuation comments on `issue`, in order: marked, and written by whoever opened it."""
    author = _login(issue)
    comments = api.call(f"listing comments of #{issue.number}", lambda: list(issue.get_comments()))
    return [c for c in comments if part_mark in (c.body or "") and _login(c) == author]


def _login(item: Any) -> str | None:
    user = getattr(item, "user", None)
    return getattr(user, "login", None)


def _not_before(key: str) -> dt.datetime | None:
    """An issue for `key` (a date or ISO week) was last updated after this: it cannot have been
    opened before its day. Bounds the search of closed issues to the recent ones (2 days' margin)."""
    try:
        start = dt.date.fromisoformat(key) if "W" not in key else dt.date.fromisocalendar(int(key[:4]), int(key[6:]), 1)
        return dt.datetime.combine(start - dt.timedelta(days=2), dt.time(), dt.timezone.utc)
    except (ValueError, OverflowError):  # no bound: search them all
        return None


def _find(kind: IssueKind, issues: Iterable[Any], key: str) -> Any | None:  # stops at the first match
    return next((i for i in issues if kind.key_of(i) == key), None)


def _reconcile_comments(api: Api, issue: Any, ours: list[Any], wanted: list[str], states: dict[str, bool]) -> bool:
    """Make our marked comments equal `wanted` (with members' ticks), in order; never touches
    other people's comments. A comment is re-read just before it is edited (a tick made since wins)."""
    changed = False
    for comment, part in zip(ours, wanted, strict=False):  # the longer list's rest is handled below
        if comment.body == with_ticks(part, states):
            continue
        fresh = api.call(f"re-reading comment {comment.id}", partial(issue.get_comment, comment.id))
        body = with_ticks(part, {**states, **tick_states([fresh.body or ""])})
        if fresh.body != body:
            api.call(f"editing comment {comment.id}", partial(fresh.edit, body))
            changed = True
    for part in wanted[len(ours) :]:
        api.call(f"adding a comment to #{issue.number}", partial(issue.create_comment, with_ticks(part, states)))
        changed = True
    for comment in ours[len(wanted) :]:
        api.call(f"deleting comment {comment.id}", comment.delete)
        changed = True
    return changed


def _close_earlier(api: Api, kind: IssueKind, open_issues: list[Any], key: str, keep: int) -> list[int]:
    closed = []
    for issue in open_issues:
        other = kind.key_of(issue)
        if issue.number != keep and other is not None and other < key:
            api.call(f"closing earlier {kind.name} issue #{issue.number}", partial(issue.edit, state="closed"))
            closed.append(issue.number)
    return closed
