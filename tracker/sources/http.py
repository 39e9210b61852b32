"""Polite, patient HTTP for arXiv: one request at a time, a courtesy delay, retries with backoff.

arXiv asks for at most one request every 3 seconds and answers 429/503 under load; both
sources share one `PoliteSession` so the delay holds across topics and feeds.
"""
from __future__ import annotations

import logging
import time
from email.utils import parsedate_to_datetime
from typing import Callable

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from tracker.errors import SourceError

log = logging.getLogger(__name__)

RETRYABLE_STATUS = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 120.0  # seconds; a longer Retry-After is capped rather than stalling the run


class TransientError(Exception):
    """A failure worth retrying (429/5xx, timeout, dropped connection, empty page)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return min(float(value), MAX_RETRY_AFTER)
    except ValueError:
        try:
            delta = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
        return min(max(delta, 0.0), MAX_RETRY_AFTER)


class PoliteSession:
    def __init__(
        self,
        *,
        delay_seconds: float = 3.0,
        retries: int = 5,
        timeout: float = 30.0,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ):
        self.delay_seconds = delay_seconds
        self.retries = retries
        self.timeout = timeout
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = "paper-tracker (+https://github.com/) arxiv.py"
        self._last_request: float | None = None

    def get_with_retries(self, url: str, check: Callable[[requests.Response], None]) -> requests.Response:
        """GET `url`, retrying transient failures; `check` may raise TransientError to retry a 200 too."""
        exponential = wait_exponential(multiplier=self.backoff_seconds, max=60)

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            hinted = getattr(error, "retry_after", None)
            return hinted if hinted is not None else exponential(state)

        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait,
            retry=retry_if_exception_type(TransientError),
            sleep=self.sleep,
            before_sleep=lambda s: log.warning("arXiv: %s; retry %d of %d", s.outcome.exception(), s.attempt_number, self.retries),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    response = self._get_once(url)
                    check(response)
                    return response
        except TransientError as exc:
            raise SourceError(f"arXiv did not answer after {self.retries + 1} attempts: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _get_once(self, url: str) -> requests.Response:
        self._wait_for_turn()
        try:
            response = self.session.get(url, timeout=self.timeout)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise TransientError(f"{type(exc).__name__} for {url}") from None
        finally:
            self._last_request = time.monotonic()
        if response.status_code in RETRYABLE_STATUS:
            raise TransientError(f"HTTP {response.status_code} for {url}", _retry_after_seconds(response))
        return response

    def _wait_for_turn(self) -> None:
        if self._last_request is None:
            return
        remaining = self.delay_seconds - (time.monotonic() - self._last_request)
        if remaining > 0:
            self.sleep(remaining)
