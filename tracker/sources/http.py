"""Polite, patient and bounded HTTP for arXiv: one request at a time, a courtesy delay, retries.

arXiv asks for at most one request every 3 seconds and answers 429/503 under load; both
sources share one `PoliteSession`, so the delay and the run's budget for waiting hold across
topics and feeds. Every request has a total deadline (a server trickling bytes cannot hold the
run), every retry wait is charged to one run-wide budget, and a run whose very first request
cannot reach arXiv stops at once (`ArxivUnreachable`) instead of retrying topic after topic.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlsplit

import requests
from lxml import etree
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from tracker.config_types import REPO_NAME
from tracker.errors import ArxivUnreachable, SourceError
from tracker.redact import redact, url_secrets
from tracker.retry import next_wait, retry_after_seconds
from tracker.sources import netfaults
from tracker.sources.netfaults import Watchdog, WatchedAdapter

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0  # seconds; a longer Retry-After is capped rather than stalling the run
MAX_BODY_BYTES = 64 * 2**20  # a 2,000-entry API page is ~6 MB
MAX_REDIRECTS = 5  # each hop is a request to arXiv outside the courtesy delay


class TransientError(Exception):
    """A failure worth retrying (429/5xx, timeout, dropped connection, incomplete answer)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class _BudgetSpent(Exception):
    """The next retry wait does not fit in what is left of the run's budget for waiting."""


@dataclass(frozen=True)
class Answer:
    """One complete HTTP answer: the whole body was read within the deadline."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()


def host_of(url: str) -> str:
    """`host[:port]` of a URL, never its userinfo: what messages name."""
    try:
        parts = urlsplit(url)
        return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "?"
    except ValueError:
        return "?"


def _looks_like(answer: Answer) -> str:
    head = answer.content.lstrip()[:200].lower()
    if "html" in answer.content_type or head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page instead of a feed (maintenance or an error page?)"
    if "json" in answer.content_type or head.startswith((b"{", b"[")):
        return "JSON instead of a feed"
    return "an incomplete or malformed feed"


def well_formed_xml(answer: Answer) -> etree._Element:
    """The answer's XML root, parsed strictly: a body cut short, or not XML at all, is a failed request.

    (A recovering parser would turn a body cut mid-entry into a shorter, plausible feed.)
    """
    where = host_of(answer.url)
    if not answer.content.strip():
        raise TransientError(f"empty body from {where} (HTTP {answer.status})")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(answer.content, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise TransientError(f"{_looks_like(answer)} from {where}: {exc.msg}") from None
    if root is None:  # pragma: no cover - lxml raises instead on the versions we support
        raise TransientError(f"{_looks_like(answer)} from {where}")
    return root


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else str(element.tag)


class PoliteSession:
    def __init__(
        self,
        *,
        delay_seconds: float = 3.0,
        retries: int = 5,
        timeout: float = 30.0,
        backoff_seconds: float = 2.0,
        deadline: float = 60.0,
        wait_budget: float = 600.0,
        max_retry_after: float = MAX_RETRY_AFTER,
        max_body_bytes: int = MAX_BODY_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
        contact: str | None = None,
    ):
        self.delay_seconds = delay_seconds
        self.retries = retries
        self.timeout = timeout
        self.backoff_seconds = backoff_seconds
        self.deadline = deadline
        self.wait_budget = wait_budget
        self.max_retry_after = max_retry_after
        self.max_body_bytes = max_body_bytes
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent(contact)
        self.session.max_redirects = MAX_REDIRECTS
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, WatchedAdapter())
        self.waited = 0.0  # seconds of retry waits charged to the budget so far
        self._budget_spent = False
        self._reached = False  # has any request of this run got an HTTP answer?
        self._last_request: float | None = None

    @classmethod
    def from_settings(cls, arxiv, *, sleep: Callable[[float], None] = time.sleep) -> PoliteSession:
        """From the `arxiv:` section of keywords.yaml (tracker.config.ArxivSettings)."""
        return cls(
            delay_seconds=arxiv.delay_seconds,
            retries=arxiv.retries,
            timeout=arxiv.timeout_seconds,
            backoff_seconds=arxiv.backoff_seconds,
            deadline=arxiv.request_deadline_seconds,
            wait_budget=arxiv.wait_budget_seconds,
            sleep=sleep,
            contact=arxiv.contact or repository_url(),
        )

    # --- one request, retried ---------------------------------------------------------------

    def get_with_retries(self, url: str, check: Callable[[Answer], None]) -> Answer:
        """GET `url`, retrying transient failures; `check` may raise TransientError to retry a 200 too."""
        secrets = url_secrets(url)
        if self._budget_spent:
            raise SourceError(
                f"not asked: the run's budget for waiting on arXiv ({self.wait_budget:g} s, "
                "arxiv.wait_budget_seconds) was used up by earlier retries"
            )
        exponential = wait_exponential(multiplier=self.backoff_seconds, max=60)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            return next_wait(getattr(error, "retry_after", None), exponential(state))

        def sleep(seconds: float) -> None:
            if self.waited + seconds > self.wait_budget:
                self._budget_spent = True
                raise _BudgetSpent(seconds)
            self.waited += seconds
            self.sleep(seconds)

        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait,
            retry=retry_if_exception_type(TransientError),
            sleep=sleep,
            before_sleep=lambda s: log.warning(
                "arXiv: %s; retry %d of %d",
                redact(str(s.outcome and s.outcome.exception()), secrets),
                s.attempt_number,
                self.retries,
            ),
            reraise=True,
        )
        last: list[TransientError] = []
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        answer = self._get_once(url)
                        check(answer)
                    except TransientError as exc:
                        last[:] = [exc]
                        raise
                    return answer
        except TransientError as exc:
            tries = f"{self.retries + 1} attempts" if self.retries else "1 attempt"
            raise SourceError(redact(f"arXiv did not answer after {tries}: {exc}", secrets)) from None
        except _BudgetSpent as spent:
            raise SourceError(
                redact(
                    f"gave up waiting for arXiv: another {spent.args[0]:g} s would exceed the run's budget for "
                    f"waiting ({self.wait_budget:g} s, arxiv.wait_budget_seconds); "
                    f"last error: {last[-1] if last else '?'}",
                    secrets,
                )
            ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, url: str) -> Answer:
        self._wait_for_turn()
        try:
            answer, retry_after = self._read(url)
        finally:
            self._last_request = time.monotonic()
        if answer.status in RETRYABLE_STATUS:
            raise TransientError(f"HTTP {answer.status} from {host_of(url)}", retry_after)
        return answer

    def _read(self, url: str) -> tuple[Answer, float | None]:
        """The whole answer within `deadline` seconds, or TransientError / ArxivUnreachable."""
        secrets = url_secrets(url)
        response = None
        with Watchdog(self.deadline) as watchdog:
            try:
                response = self.session.get(url, timeout=self.timeout, stream=True)
                self._reached = True
                watchdog.track_response(response)
                content = netfaults.read_body(response, self.max_body_bytes)
            except netfaults.TRANSPORT_ERRORS as exc:
                if watchdog.expired:
                    raise TransientError(f"no complete answer from {host_of(url)} within {self.deadline:g} s") from None
                raise self._failure(exc, url, secrets) from None
            finally:
                if response is not None:
                    response.close()
            if watchdog.expired:  # the cut may look like a clean end of a body without Content-Length
                raise TransientError(f"no complete answer from {host_of(url)} within {self.deadline:g} s")
        answer = Answer(url, response.status_code, response.headers, content)
        return answer, retry_after_seconds(response.headers.get("Retry-After"), self.max_retry_after)

    def _failure(self, exc: BaseException, url: str, secrets: list[str]) -> Exception:
        """ArxivUnreachable when nothing of this run has reached arXiv yet, else a retryable error."""
        unusable = netfaults.unusable_url(exc)
        if unusable:  # a config problem: asking again cannot help
            error = ArxivUnreachable if not self._reached else SourceError
            return error(redact(f"cannot use the URL {url.split('?')[0]}: {unusable}", secrets))
        cause = netfaults.unreachable_cause(exc, host_of(url), self.timeout)
        if cause and not self._reached:
            return ArxivUnreachable(redact(cause, secrets))
        return TransientError(redact(netfaults.describe(exc, host_of(url), self.timeout), secrets))

    def _wait_for_turn(self) -> None:
        if self._last_request is None:
            return
        remaining = self.delay_seconds - (time.monotonic() - self._last_request)
        if remaining > 0:
            self.sleep(remaining)


def user_agent(contact: str | None) -> str:
    """arXiv asks API clients to identify themselves: ours, and who runs it (`arxiv.contact`)."""
    who = "; ".join(part for part in ("+https://pypi.org/project/paper-tracker/", _one_line(contact)) if part)
    return f"paper-tracker/{_version()} ({who}) arxiv.py"


def repository_url() -> str | None:
    """In GitHub Actions, the repository the run belongs to: a contact when none is configured."""
    server, repo = os.environ.get("GITHUB_SERVER_URL", "https://github.com"), os.environ.get("GITHUB_REPOSITORY")
    return f"{server.rstrip('/')}/{repo}" if repo and REPO_NAME.fullmatch(repo) else None


def _one_line(text: str | None) -> str:
    return " ".join((text or "").replace("(", " ").replace(")", " ").split())[:200]


def _version() -> str:
    try:
        return metadata.version("paper-tracker")
    except metadata.PackageNotFoundError:
        return "dev"
