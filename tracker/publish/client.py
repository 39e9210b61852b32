"""The PyGithub client at the edge: bounded retries (PyGithub's own `GithubRetry`) and one-line errors.

Retrying is PyGithub's `GithubRetry` (a urllib3 `Retry`), narrowed in two ways it cannot be
configured for:
- every wait is bounded: one wait at most `max_wait` seconds, all waits of one client at most
  `budget` seconds (urllib3 would sleep a `Retry-After: 100000` in full). A longer wait fails the
  step at once with a message saying when to rerun;
- only rate limits (nothing was done) are retried for every method (GithubRetry leaves PATCH out;
  we add it, so a secondary limit on an edit waits like one on a POST). A dropped connection or a 5xx
  is retried for GET only: a POST whose answer was lost may have created the issue or comment, and
  repeating it would post it twice. The publisher reconciles by markers, so rerunning finishes the job.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

from github import GithubRetry  # PyGithub (~0.3 s): the CLI imports this module lazily
from github.GithubException import BadAttributeException, GithubException, RateLimitExceededExceedsMaxWait
from requests import RequestException
from urllib3 import Retry
from urllib3.exceptions import HTTPError as Urllib3Error

from tracker.config_types import REPO_NAME
from tracker.errors import TrackerError
from tracker.redact import redact

log = logging.getLogger(__name__)

T = TypeVar("T")
DEFAULT_API_URL = "https://api.github.com"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_RATE_LIMITED_METHODS = Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"}  # a rate limit: nothing was done
# PyGithub reading an answer that is not GitHub's JSON (a proxy's error page, a field of the wrong type)
_NETWORK_ERRORS = (RequestException, Urllib3Error, ConnectionError, TimeoutError)
_ANSWER_ERRORS = (BadAttributeException, ValueError, KeyError, TypeError, AttributeError)
WRITE_ACCESS = "issues:write (and contents:write for --commit)"  # what `tracker publish` uses
READ_ISSUES = "read access to issues (Issues: read-only)"  # all that `tracker feedback` uses


@dataclass
class RetryPolicy:
    """Bounds on waiting for GitHub. `sleep` is injectable so tests never wait."""

    sleep: Callable[[float], None] = time.sleep
    max_wait: float = 300.0  # longest single wait; a longer reset fails fast instead
    budget: float = 600.0  # all waits of one client together (the job has a time limit)
    attempts: int = 3  # retries per request
    secondary_wait: float = 60.0  # a secondary rate limit without Retry-After: GitHub asks for a minute
    waited: float = field(default=0.0, compare=False)  # running total, shared by every retry copy


class BoundedRetry(GithubRetry):
    """`GithubRetry` with bounded, injectable waits and no blind repeats of non-idempotent writes."""

    def __init__(self, policy: RetryPolicy | None = None, **kwargs: Any) -> None:
        self.policy = policy or RetryPolicy()
        kwargs.setdefault("total", self.policy.attempts)
        kwargs.setdefault("secondary_rate_wait", self.policy.secondary_wait)
        kwargs.setdefault("max_rate_limit_wait", self.policy.max_wait)
        kwargs.setdefault("status_forcelist", [429, *range(500, 600)])  # GithubRetry adds 403
        kwargs.setdefault("backoff_factor", 1.0)
        kwargs.setdefault("raise_on_status", False)  # out of retries: PyGithub raises the real error
        kwargs.setdefault("allowed_methods", _RATE_LIMITED_METHODS)  # 5xx/drops on writes: see is_retry/increment
        super().__init__(**kwargs)

    def new(self, **kw: Any) -> BoundedRetry:
        retry = super().new(**kw)
        retry.policy = self.policy  # one budget for the whole client
        return retry

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if status_code >= 500 and method not in _SAFE_METHODS:
            return False
        return super().is_retry(method, status_code, has_retry_after)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if error is not None and method not in _SAFE_METHODS and not self._is_connection_error(error):
            raise error  # the request may have been carried out: never repeat it blindly
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if response is not None:
            wait = self._wait_for(response, retry)
            if wait > self.policy.max_wait or self.policy.waited + wait > self.policy.budget:
                raise RateLimitExceededExceedsMaxWait(
                    response.status,
                    {"message": f"rate limited; retry in {wait:.0f} s"},
                    dict(response.headers),
                    wait=wait,
                )
        return retry

    def _wait_for(self, response: Any, retry: Retry) -> float:
        after = self.get_retry_after(response) if self.respect_retry_after_header else None
        if after is not None:
            return after
        if response.status == 429:  # (mypy: a method replaced on this one Retry object, on purpose)
            retry.get_backoff_time = lambda: self.policy.secondary_wait  # type: ignore[method-assign]
        return retry.get_backoff_time()

    def sleep(self, response: Any = None) -> None:
        wait = self.get_retry_after(response) if response is not None and self.respect_retry_after_header else None
        wait = self.get_backoff_time() if wait is None else wait
        wait = min(max(wait, 0.0), self.policy.max_wait)
        if wait:
            log.warning("GitHub asked us to slow down; waiting %.0f s", wait)
            self.policy.waited += wait
            self.policy.sleep(wait)


def connect(
    token: str | None,
    base_url: str | None = None,
    repo_name: str | None = None,
    *,
    per_page: int = 100,
    timeout: int = 30,
    write_delay: float = 1.0,
    retry: RetryPolicy | None = None,
    needs: str | None = None,
) -> Any:
    """Build a PyGithub client and return the `Repository` for `repo_name` ("owner/name").

    `write_delay` spaces writes as GitHub asks (~1 s, against secondary rate limits); 0 turns
    PyGithub's throttling off. `needs`: the token permissions the command uses, named in errors.
    """
    from github import Auth, Github

    if not token:
        raise TrackerError(f"GITHUB_TOKEN is not set: export a token with {needs or WRITE_ACCESS}")
    if not repo_name or not REPO_NAME.fullmatch(repo_name):
        raise TrackerError(f"GitHub repository {repo_name!r} is not OWNER/NAME: pass --repo or set GITHUB_REPOSITORY")
    base_url = (base_url or DEFAULT_API_URL).rstrip("/")
    client = Github(
        auth=Auth.Token(token),
        base_url=base_url,
        per_page=per_page,
        timeout=timeout,
        retry=BoundedRetry(retry),
        seconds_between_requests=0.25 if write_delay else None,
        seconds_between_writes=write_delay or None,
    )
    api = Api(None, token=token, where=f"{repo_name} at {redact(base_url, [token])}", needs=needs)
    return api.call(f"opening repository {repo_name}", lambda: client.get_repo(repo_name))


def connect_from_env(repo_name: str | None = None, environ: Mapping[str, str] | None = None, **kwargs: Any) -> Any:
    """`connect()` configured from the environment.

    GITHUB_TOKEN; TRACKER_GITHUB_API_URL (else Actions' GITHUB_API_URL, else api.github.com);
    GITHUB_REPOSITORY when `repo_name` is not given; TRACKER_GITHUB_WRITE_DELAY (seconds, 0 = off).
    """
    env = os.environ if environ is None else environ
    base_url = env.get("TRACKER_GITHUB_API_URL") or env.get("GITHUB_API_URL") or None
    if "write_delay" not in kwargs and env.get("TRACKER_GITHUB_WRITE_DELAY"):
        kwargs["write_delay"] = _seconds(env["TRACKER_GITHUB_WRITE_DELAY"])
    return connect(env.get("GITHUB_TOKEN"), base_url, repo_name or env.get("GITHUB_REPOSITORY"), **kwargs)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 60:
        raise TrackerError(f"TRACKER_GITHUB_WRITE_DELAY={text!r} is not a number of seconds between 0 and 60")
    return value


class Api:
    """Runs one GitHub step and turns any failure into one redacted TrackerError line."""

    def __init__(self, repo: Any, *, token: str | None = None, where: str = "", needs: str | None = None):
        self.needs = needs or WRITE_ACCESS  # the permissions named when GitHub refuses (403)
        self.token = token if token is not None else _repo_token(repo)
        self.where = where or (getattr(repo, "full_name", "") if repo is not None else "")

    @overload
    def call(self, what: str, fn: Callable[[], T], *, missing_ok: Literal[False] = False) -> T: ...
    @overload
    def call(self, what: str, fn: Callable[[], T], *, missing_ok: bool) -> T | None: ...

    def call(self, what: str, fn: Callable[[], T], *, missing_ok: bool = False) -> T | None:
        """`fn()`, with GitHub's and the network's failures turned into one clear line (None for a
        404 when `missing_ok`)."""
        try:
            return fn()
        except RateLimitExceededExceedsMaxWait as exc:
            wait = f"{exc.wait:.0f} s" if exc.wait is not None else "too long"
            raise self._fail(
                f"GitHub rate limit hit while {what} on {self.where}: reset in {wait}, longer than we wait; rerun later"
            ) from None
        except GithubException as exc:
            if missing_ok and exc.status == 404:
                return None
            raise self._error(what, exc) from None
        except (OSError, Urllib3Error) as exc:  # requests' ConnectionError/Timeout are OSErrors
            if not isinstance(exc, _NETWORK_ERRORS):  # a local file the step read: not GitHub's fault
                raise self._fail(f"{type(exc).__name__} while {what}: {_short(exc)}") from None
            raise self._fail(
                f"network failure talking to GitHub ({self.where}) while {what}: {type(exc).__name__}; "
                "rerun `tracker publish` to finish"
            ) from None
        except AssertionError as exc:  # PyGithub asserts that URLs the server names match the API URL
            raise self._fail(
                f"GitHub ({self.where}) answered while {what} with a URL outside the API URL ({_short(exc)}): "
                "a proxy or GitHub Enterprise must name its own URLs; set TRACKER_GITHUB_API_URL to the URL it uses"
            ) from None
        except _ANSWER_ERRORS as exc:
            raise self._fail(
                f"GitHub ({self.where}) sent an answer PyGithub cannot read while {what}: "
                f"{type(exc).__name__} {_short(exc)}"
            ) from None

    def _error(self, what: str, exc: GithubException) -> TrackerError:
        status, message = exc.status, _message(exc) or "no message"
        if status == 401:
            return self._fail(f"GitHub rejected the token (401 {message}) while {what}: check GITHUB_TOKEN")
        if status in (403, 429) and "rate limit" in message.lower():
            return self._fail(f"GitHub rate limit hit while {what} on {self.where} ({status} {message}); rerun later")
        if status == 403:
            return self._fail(
                f"GitHub refused access (403 {message}) while {what} on {self.where}: the token needs {self.needs}"
            )
        if status == 404:
            return self._fail(
                f"GitHub returned 404 Not Found while {what} on {self.where}: "
                "check --repo / GITHUB_REPOSITORY and that the token can see it"
            )
        return self._fail(f"GitHub error {status} ({message}) while {what} on {self.where}")

    def _fail(self, message: str) -> TrackerError:
        return TrackerError(redact(message, [self.token] if self.token else []))


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or "no detail"


def _message(exc: GithubException) -> str:
    data = exc.data if isinstance(exc.data, dict) else {}
    return " ".join(str(data.get("message") or exc.message or "").split())[:200]


def _repo_token(repo: Any) -> str | None:
    try:
        return repo.requester.auth.token
    except AttributeError:
        return None
