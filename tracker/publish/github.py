"""GitHub publishing: the daily digest issue, run-health issue, and commits via the contents API.

Every public function takes a PyGithub `Repository` built by `connect()` at the edge, so tests
hand in one pointed at a loopback fake. Design for partial failure: each publish recomputes the
wanted state (issue body + continuation comments) and reconciles what GitHub has toward it, so a
run interrupted midway is completed by the next one instead of leaving a second issue behind.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from tracker.errors import TrackerError

log = logging.getLogger(__name__)

T = TypeVar("T")

GITHUB_BODY_LIMIT = 65_536  # GitHub rejects issue/comment bodies longer than this
DEFAULT_API_URL = "https://api.github.com"

DIGEST_MARK = "<!-- paper-tracker:digest date={date} -->"
PART_MARK = "<!-- paper-tracker:digest-part date={date} -->"
HEALTH_MARK = "<!-- paper-tracker:health -->"
_DIGEST_MARK_RE = re.compile(r"<!-- paper-tracker:digest date=(\d{4}-\d{2}-\d{2}) -->")
_TITLE_DATE_RE = re.compile(r"^arXiv digest (\d{4}-\d{2}-\d{2})\b")
# Token shapes GitHub issues; scrubbed from messages even when we do not know the exact token.
_TOKEN_RE = re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b")
_MARKER_OVERHEAD = 200  # room kept in each chunk for markers and "(continued n/m)" lines

_LABEL_COLORS = {"digest": "0e8a16", "tracker-health": "d93f0b"}


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PublishResult:
    """What `publish_digest` did. action: created | updated | unchanged | skipped."""

    action: str
    number: int | None = None
    url: str | None = None
    parts: int = 0  # issue body + continuation comments
    closed: tuple[int, ...] = ()  # earlier digest issues closed by this publish


@dataclass(frozen=True)
class HealthResult:
    """What `report_health` did. action: opened | updated | unchanged | closed | none."""

    action: str
    number: int | None = None


@dataclass
class RetryPolicy:
    """How long to wait on GitHub rate limits. `sleep`/`clock` are injectable for tests."""

    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    max_wait: float = 300.0  # longest single wait; a longer reset fails fast instead
    attempts: int = 3


# --------------------------------------------------------------------------- client at the edge


def connect(
    token: str | None,
    base_url: str | None = None,
    repo_name: str | None = None,
    *,
    per_page: int = 100,
    timeout: int = 30,
    write_delay: float = 1.0,
    retry: RetryPolicy | None = None,
) -> Any:
    """Build a PyGithub client and return the `Repository` for `repo_name` ("owner/name").

    PyGithub's own urllib3 retries are disabled: rate limits are handled by `RetryPolicy`, whose
    waits are bounded and whose sleep tests can replace. `write_delay` spaces writes as GitHub
    asks (~1 s, against secondary rate limits); 0 turns PyGithub's throttling off.
    """
    from github import Auth, Github  # PyGithub import is ~0.3 s; keep CLI start-up fast

    if not token:
        raise TrackerError("GITHUB_TOKEN is not set: export a token with issues:write (and contents:write for --commit)")
    if not repo_name or not re.fullmatch(r"[\w.-]+/[\w.-]+", repo_name):
        raise TrackerError(
            f"GitHub repository {repo_name!r} is not OWNER/NAME: pass --repo or set GITHUB_REPOSITORY"
        )
    base_url = (base_url or DEFAULT_API_URL).rstrip("/")
    client = Github(
        auth=Auth.Token(token),
        base_url=base_url,
        per_page=per_page,
        timeout=timeout,
        retry=None,
        seconds_between_requests=0.25 if write_delay else None,
        seconds_between_writes=write_delay or None,
    )
    api = _Api(None, retry, token=token, where=f"{repo_name} at {base_url}")
    return api.call(f"opening repository {repo_name}", lambda: client.get_repo(repo_name))


def connect_from_env(repo_name: str | None = None, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
    """`connect()` configured from the environment.

    GITHUB_TOKEN; TRACKER_GITHUB_API_URL (else Actions' GITHUB_API_URL, else api.github.com);
    GITHUB_REPOSITORY when `repo_name` is not given; TRACKER_GITHUB_WRITE_DELAY (seconds, 0 = off).
    """
    env = os.environ if environ is None else environ
    base_url = env.get("TRACKER_GITHUB_API_URL") or env.get("GITHUB_API_URL") or None
    if "write_delay" not in kwargs and env.get("TRACKER_GITHUB_WRITE_DELAY"):
        try:
            kwargs["write_delay"] = float(env["TRACKER_GITHUB_WRITE_DELAY"])
        except ValueError:
            raise TrackerError(f"TRACKER_GITHUB_WRITE_DELAY={env['TRACKER_GITHUB_WRITE_DELAY']!r} is not a number of seconds") from None
    return connect(env.get("GITHUB_TOKEN"), base_url, repo_name or env.get("GITHUB_REPOSITORY"), **kwargs)


# --------------------------------------------------------------------------- rendering (pure)


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
    template_dir: Path | None = None,
) -> str:
    """Render issue.md.j2; `template_dir` holds user overrides, as for the other templates."""
    from tracker.render.markdown import environment

    return environment(template_dir).get_template("issue.md.j2").render(
        date=date,
        new_count=new_count,
        revised_count=revised_count,
        digest_markdown=digest_markdown.strip("\n"),
        digest_url=digest_url,
    )


def body_size(text: str) -> int:
    """Length as GitHub may count it: UTF-16 code units (>= characters; safe for emoji)."""
    return len(text.encode("utf-16-le")) // 2


_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def split_markdown(text: str, limit: int) -> list[str]:
    """Split Markdown into chunks of at most `limit` (see `body_size`), only at line breaks.

    A chunk that starts inside a table repeats the table's header and separator rows so the
    continuation still renders as a table; a header row is never parted from its separator.
    Only a single line longer than `limit` is cut (a pathological case).
    """
    lines = _cut_long_lines(text.split("\n"), limit)
    chunks: list[list[str]] = []
    current: list[str] = []
    size = 0
    head: int | None = None  # index of the header row of the table line i is in
    for i, line in enumerate(lines):
        head = _table_head(lines, i, head)
        cost = body_size(line) + 1
        if current and size + cost > limit:
            carried: list[str] = []
            if head is not None and i == head + 1:  # separator would start the chunk: move header too
                carried = [current.pop()]
            elif head is not None and i > head + 1:
                carried = [lines[head], lines[head + 1]]
            if current:
                chunks.append(current)
            current = carried if sum(body_size(c) + 1 for c in carried) + cost <= limit else []
            size = sum(body_size(c) + 1 for c in current)
        current.append(line)
        size += cost
    chunks.append(current)
    texts = ("\n".join(c).strip("\n") for c in chunks)
    return [t for t in texts if t.strip()]


def _is_row(line: str) -> bool:
    return line.lstrip().startswith("|")


def _table_head(lines: list[str], i: int, head: int | None) -> int | None:
    """Index of the header row of the table containing line i (None outside tables)."""
    if not _is_row(lines[i]):
        return None
    if i + 1 < len(lines) and _SEPARATOR_RE.match(lines[i + 1]) and not _SEPARATOR_RE.match(lines[i]):
        return i
    return head


def _cut_long_lines(lines: list[str], limit: int) -> list[str]:
    """Last resort for single lines longer than the limit (never a real table row or paragraph)."""
    out = []
    step = max((limit - 1) // 2, 1)  # <= 2 UTF-16 units per character, so each piece fits
    for line in lines:
        if body_size(line) + 1 <= limit:
            out.append(line)
        else:
            log.warning("a %d-character line is longer than GitHub's body limit; cutting it", len(line))
            out += [line[k : k + step] for k in range(0, len(line), step)]
    return out


def digest_parts(date: str, body: str, limit: int = GITHUB_BODY_LIMIT) -> list[str]:
    """The issue body followed by continuation comment bodies, each carrying its marker."""
    chunks = split_markdown(body, limit - _MARKER_OVERHEAD)
    total = len(chunks)
    if total == 1:
        return [f"{DIGEST_MARK.format(date=date)}\n{chunks[0]}\n"]
    parts = [f"{DIGEST_MARK.format(date=date)}\n{chunks[0]}\n\n*(continued below: part 1/{total})*\n"]
    for n, chunk in enumerate(chunks[1:], start=2):
        parts.append(f"{PART_MARK.format(date=date)}\n*(continued {n}/{total})*\n\n{chunk}\n")
    return parts


def health_problems(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(topic or "run", error) pairs for a failed or partial run; [] for a clean run."""
    problems = [(str(t.get("name")), str(t.get("error"))) for t in summary.get("topics", []) if t.get("error")]
    if summary.get("error"):
        problems.insert(0, ("run", str(summary["error"])))
    return problems


def render_health_body(summary: Mapping[str, Any], run_url: str | None = None) -> str:
    problems = health_problems(summary)
    topics = summary.get("topics", [])
    failed = sum(1 for t in topics if t.get("error"))
    kind = "failed" if summary.get("error") or (topics and failed == len(topics)) else "was partial"
    lines = [
        HEALTH_MARK,
        f"The tracker run of **{summary.get('date')}** {kind}: {failed} of {len(topics)} topics failed.",
        "",
        "| Topic | Error |",
        "|---|---|",
    ]
    lines += [f"| {_cell(name)} | {_cell(error)} |" for name, error in problems]
    if run_url:
        lines += ["", f"Run: {run_url}"]
    lines += ["", "This issue is updated while runs keep failing and closed by the next clean run."]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")[:500]


def git_blob_sha(data: bytes) -> str:
    """The SHA git (and the contents API) gives a file's bytes, to skip unchanged files."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# --------------------------------------------------------------------------- API calls with retries


class _Api:
    """Runs one GitHub step: bounded waits on rate limits, errors turned into one TrackerError line."""

    def __init__(self, repo: Any, retry: RetryPolicy | None, *, token: str | None = None, where: str = ""):
        self.retry = retry or RetryPolicy()
        self.token = token if token is not None else _repo_token(repo)
        self.where = where or (getattr(repo, "full_name", "") if repo is not None else "")

    def call(self, what: str, fn: Callable[[], T], *, missing_ok: bool = False) -> T | None:
        from github import GithubException

        for attempt in range(1, self.retry.attempts + 1):
            try:
                return fn()
            except GithubException as exc:
                if missing_ok and exc.status == 404:
                    return None
                wait = rate_limit_wait(exc.status, exc.headers or {}, _message(exc), self.retry.clock)
                if wait is None:
                    raise self._error(what, exc) from None
                if wait > self.retry.max_wait or attempt == self.retry.attempts:
                    raise self._fail(
                        f"GitHub rate limit hit while {what} on {self.where}: reset in {wait:.0f} s "
                        f"(we wait at most {self.retry.max_wait:.0f} s, {self.retry.attempts} attempts); rerun later"
                    ) from None
                log.warning("GitHub rate limit while %s; waiting %.0f s (attempt %d)", what, wait, attempt)
                self.retry.sleep(wait)
            except OSError as exc:  # requests' ConnectionError/Timeout are OSErrors
                raise self._fail(
                    f"network failure talking to GitHub ({self.where}) while {what}: {type(exc).__name__}; "
                    "rerun `tracker publish` to finish"
                ) from None
        raise AssertionError("unreachable")

    def _error(self, what: str, exc: Any) -> TrackerError:
        status, message = exc.status, _message(exc) or "no message"
        if status == 401:
            return self._fail(f"GitHub rejected the token (401 {message}) while {what}: check GITHUB_TOKEN")
        if status == 403:
            return self._fail(
                f"GitHub refused access (403 {message}) while {what} on {self.where}: "
                "the token needs issues:write (and contents:write for --commit)"
            )
        if status == 404:
            return self._fail(
                f"GitHub returned 404 Not Found while {what} on {self.where}: "
                "check --repo / GITHUB_REPOSITORY and that the token can see it"
            )
        return self._fail(f"GitHub error {status} ({message}) while {what} on {self.where}")

    def _fail(self, message: str) -> TrackerError:
        return TrackerError(redact(message, self.token))


def rate_limit_wait(
    status: int, headers: Mapping[str, str], message: str, clock: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait before retrying, or None when this is not a rate-limit response."""
    if status not in (403, 429):
        return None
    headers = {k.lower(): v for k, v in headers.items()}
    if str(headers.get("retry-after", "")).strip().isdigit():
        return float(headers["retry-after"])
    if headers.get("x-ratelimit-remaining") == "0" and str(headers.get("x-ratelimit-reset", "")).isdigit():
        return max(0.0, int(headers["x-ratelimit-reset"]) - clock()) + 1  # +1: reset is rounded down
    if status == 429 or "rate limit" in message.lower():
        return 60.0  # secondary limit without headers: GitHub asks for at least a minute
    return None


def redact(text: str, token: str | None) -> str:
    if token:
        text = text.replace(token, "***")
    return _TOKEN_RE.sub("***", text)


def _message(exc: Any) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    return " ".join(str(data.get("message") or exc.message or "").split())[:200]


def _repo_token(repo: Any) -> str | None:
    try:
        return repo.requester.auth.token
    except AttributeError:
        return None


# --------------------------------------------------------------------------- digest issue


def publish_digest(
    repo: Any,
    *,
    date: str,
    new_count: int,
    revised_count: int,
    digest_markdown: str,
    digest_url: str | None = None,
    label: str = "digest",
    empty_day: str = "skip",
    limit: int = GITHUB_BODY_LIMIT,
    template_dir: Path | None = None,
    retry: RetryPolicy | None = None,
) -> PublishResult:
    """Open or update the day's digest issue (+ continuation comments), then close earlier ones.

    Idempotent: the day's issue is found by its hidden marker (or title date), its body edited
    only when different, and our continuation comments edited/created/deleted to match.
    """
    if empty_day not in ("skip", "issue"):
        raise TrackerError(f"publish.empty_day must be 'skip' or 'issue', not {empty_day!r}")
    if new_count == 0 and revised_count == 0 and empty_day == "skip":
        log.info("no new or revised papers on %s; not opening an issue (empty_day: skip)", date)
        return PublishResult("skipped")
    api = _Api(repo, retry)
    body = render_issue_body(
        date=date,
        new_count=new_count,
        revised_count=revised_count,
        digest_markdown=digest_markdown if new_count or revised_count else "",
        digest_url=digest_url,
        template_dir=template_dir,
    )
    parts = digest_parts(date, body, limit)
    title = digest_title(date, new_count)
    ensure_label(repo, label, api)

    open_issues = api.call("listing open digest issues", lambda: _issues(repo, "open", label))
    issue = _find_digest(open_issues, date) or api.call(
        "looking for the day's closed digest issue", lambda: _find_digest(_iter_issues(repo, "closed", label), date)
    )
    if issue is None:
        issue = api.call("creating the digest issue", lambda: repo.create_issue(title=title, body=parts[0], labels=[label]))
        action = "created"
    elif issue.title != title or issue.body != parts[0]:
        api.call(f"updating digest issue #{issue.number}", lambda: issue.edit(title=title, body=parts[0]))
        action = "updated"
    else:
        action = "unchanged"
    if _reconcile_comments(api, issue, date, parts[1:]) and action == "unchanged":
        action = "updated"
    closed = _close_earlier(api, open_issues, date, issue.number)
    log.info("digest issue #%s for %s %s (%d parts)", issue.number, date, action, len(parts))
    return PublishResult(action, issue.number, issue.html_url, len(parts), tuple(closed))


def ensure_label(repo: Any, name: str, api: _Api | None = None) -> None:
    api = api or _Api(repo, None)
    if api.call(f"reading label {name!r}", lambda: repo.get_label(name), missing_ok=True) is None:
        color = _LABEL_COLORS.get(name, "ededed")
        api.call(f"creating label {name!r}", lambda: repo.create_label(name, color, "paper-tracker"))


def _issues(repo: Any, state: str, label: str) -> list[Any]:
    return list(_iter_issues(repo, state, label))


def _iter_issues(repo: Any, state: str, label: str) -> Iterable[Any]:
    issues = repo.get_issues(state=state, labels=[label], sort="created", direction="desc")
    return (i for i in issues if i.pull_request is None)


def issue_date(issue: Any) -> str | None:
    """The digest date an issue is for: hidden body marker first, title as a fallback."""
    found = _DIGEST_MARK_RE.search(issue.body or "") or _TITLE_DATE_RE.match(issue.title or "")
    return found.group(1) if found else None


def _find_digest(issues: Iterable[Any], date: str) -> Any | None:
    return next((i for i in issues if issue_date(i) == date), None)


def _reconcile_comments(api: _Api, issue: Any, date: str, wanted: list[str]) -> bool:
    """Make our marked comments equal `wanted`, in order; never touches other people's comments."""
    mark = PART_MARK.format(date=date)
    ours = [c for c in api.call("listing digest comments", lambda: list(issue.get_comments())) if mark in (c.body or "")]
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


def _close_earlier(api: _Api, open_issues: list[Any], date: str, keep: int) -> list[int]:
    closed = []
    for issue in open_issues:
        other = issue_date(issue)
        if issue.number != keep and other is not None and other < date:
            api.call(f"closing earlier digest #{issue.number}", lambda i=issue: i.edit(state="closed"))
            closed.append(issue.number)
    return closed


# --------------------------------------------------------------------------- run health


def report_health(
    repo: Any,
    summary: Mapping[str, Any],
    *,
    label: str = "tracker-health",
    run_url: str | None = None,
    retry: RetryPolicy | None = None,
) -> HealthResult:
    """Keep one open `tracker-health` issue while runs fail; close it after a clean run."""
    api = _Api(repo, retry)
    date = summary.get("date")
    open_issues = api.call("listing health issues", lambda: _issues(repo, "open", label)) if _has_label(api, repo, label) else []
    existing = [i for i in open_issues if HEALTH_MARK in (i.body or "")]
    if not health_problems(summary):
        for issue in existing:
            api.call(f"commenting on #{issue.number}", lambda i=issue: i.create_comment(f"The run of {date} completed cleanly; closing."))
            api.call(f"closing health issue #{issue.number}", lambda i=issue: i.edit(state="closed"))
        return HealthResult("closed", existing[0].number) if existing else HealthResult("none")
    body = render_health_body(summary, run_url)
    title = f"Tracker health: run of {date} had errors"
    if not existing:
        ensure_label(repo, label, api)
        issue = api.call("opening the health issue", lambda: repo.create_issue(title=title, body=body, labels=[label]))
        return HealthResult("opened", issue.number)
    issue = existing[0]
    if issue.body == body and issue.title == title:
        return HealthResult("unchanged", issue.number)
    api.call(f"updating health issue #{issue.number}", lambda: issue.edit(title=title, body=body))
    return HealthResult("updated", issue.number)


def _has_label(api: _Api, repo: Any, label: str) -> bool:
    return api.call(f"reading label {label!r}", lambda: repo.get_label(label), missing_ok=True) is not None


# --------------------------------------------------------------------------- commit mode


def commit_files(
    repo: Any,
    files: Mapping[str, bytes],
    *,
    message: str,
    branch: str | None = None,
    retry: RetryPolicy | None = None,
) -> list[str]:
    """Write files through the contents API (no checkout needed); returns the paths changed.

    Unchanged files are skipped by comparing git blob SHAs, so no content is downloaded. Each
    changed file becomes one commit (the contents API has no multi-file commit).
    """
    from github.GithubObject import NotSet

    api = _Api(repo, retry)
    ref = branch if branch else NotSet
    changed = []
    for path in sorted(files):
        data = files[path]
        current = api.call(f"reading {path}", lambda p=path: repo.get_contents(p, ref=ref), missing_ok=True)
        if isinstance(current, list):
            raise TrackerError(f"cannot commit {path}: it is a directory in {repo.full_name}")
        if current is None:
            api.call(f"creating {path}", lambda p=path, d=data: repo.create_file(p, message, d, branch=ref))
        elif current.sha != git_blob_sha(data):
            api.call(f"updating {path}", lambda p=path, d=data, s=current.sha: repo.update_file(p, message, d, s, branch=ref))
        else:
            continue
        changed.append(path)
    log.info("committed %d of %d files via the contents API", len(changed), len(files))
    return changed
