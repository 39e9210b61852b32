"""Sending: webhooks over HTTPS, e-mail over SMTP, each retried within one wait budget per run.

A failure is described by facts only (HTTP status, exception type, the SMTP server's code):
never by the exception's text, which can carry the webhook URL, i.e. the secret itself.
"""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from tracker.redact import redact
from tracker.retry import Deadline, next_wait, retry_after_seconds

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
MAX_RESPONSE_BYTES = 64 * 1024
ATTEMPTS = 5
FIRST_BACKOFF = 1.0


class DeliveryFailed(Exception):
    """A channel could not be reached; `str()` is safe to show (no URL, no secret)."""


class Retryable(DeliveryFailed):
    """Worth another try (429, 5xx, a timeout, a dropped connection), after `retry_after` if given."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def with_retries(send: Any, budget: Deadline) -> None:
    """Call `send()` until it succeeds, fails for good, or the budget has no room for the next wait."""
    attempts = stop_after_attempt(ATTEMPTS)
    retrying = Retrying(
        retry=retry_if_exception_type(Retryable),
        stop=lambda state: attempts(state) or _next_wait(state) > budget.left(),
        wait=_next_wait,
        reraise=True,
    )
    retrying(send)


def _next_wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    return next_wait(getattr(error, "retry_after", None), FIRST_BACKOFF * 2 ** (state.attempt_number - 1))


# --- webhooks ----------------------------------------------------------------------------------


def post_json(url: str, payload: dict[str, Any], budget: Deadline) -> None:
    """One POST; the whole exchange, however slowly the server trickles, ends within the budget."""
    deadline = time.monotonic() + max(1.0, min(READ_TIMEOUT * 2, budget.left()))
    read_timeout = max(0.5, min(READ_TIMEOUT, deadline - time.monotonic()))
    try:
        with requests.post(
            url, json=payload, timeout=(CONNECT_TIMEOUT, read_timeout), stream=True, allow_redirects=False
        ) as response:
            _read_capped(response, deadline)
            _check_status(response)
    except requests.Timeout:
        raise Retryable("timed out") from None
    except requests.ConnectionError:
        raise Retryable("connection failed") from None
    except requests.RequestException as exc:
        raise DeliveryFailed(f"request failed ({type(exc).__name__})") from None


def _read_capped(response: requests.Response, deadline: float) -> bytes:
    body = b""
    for chunk in response.iter_content(4096):
        body += chunk
        if time.monotonic() > deadline:
            raise Retryable("the server sent its answer too slowly")
        if len(body) > MAX_RESPONSE_BYTES:
            break
    return body


def _check_status(response: requests.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if status == 429 or status >= 500:
        raise Retryable(f"HTTP {status}", retry_after_seconds(response.headers.get("Retry-After"), cap=86400))
    if 300 <= status < 400:
        raise DeliveryFailed(f"HTTP {status} (a redirect; check the webhook URL)")
    raise DeliveryFailed(f"HTTP {status} (check the webhook URL and its permissions)")


# --- e-mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpLogin:
    host: str
    port: int
    starttls: bool
    ssl: bool
    timeout: float
    username: str | None = None
    password: str | None = None


def send_email(login: SmtpLogin, message: EmailMessage, budget: Deadline) -> None:
    """One delivery attempt; its timeout never reaches past the run's wait budget."""
    secrets = _sent_forms(login.username, login.password)
    timeout = max(1.0, min(login.timeout, budget.left()))
    smtp = _client(login, timeout)
    # The socket timeout bounds each read; a server trickling one line at a time (a greeting that never
    # ends) would hold the run forever. At the attempt's deadline the connection is shut under it.
    hang_up = threading.Timer(max(1.0, min(2 * login.timeout, budget.left())), _shut, args=(smtp,))
    hang_up.daemon = True
    hang_up.start()
    try:
        with smtp:
            _greeted(smtp, login)
            if login.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if login.username and login.password:
                _login(smtp, login.username, login.password)
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        reply = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        text = f"SMTP {exc.smtp_code}: {redact(reply, secrets)[:200]}"
        raise (Retryable(text) if 400 <= exc.smtp_code < 500 else DeliveryFailed(text)) from None
    except smtplib.SMTPRecipientsRefused:
        raise DeliveryFailed("SMTP: every recipient was refused") from None
    except (smtplib.SMTPServerDisconnected, TimeoutError, ConnectionError) as exc:
        raise Retryable(f"SMTP connection failed ({type(exc).__name__})") from None
    except ssl.SSLError as exc:
        raise DeliveryFailed(f"SMTP TLS failed ({exc.reason or type(exc).__name__})") from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryFailed(f"SMTP failed ({type(exc).__name__})") from None
    finally:
        hang_up.cancel()


def _sent_forms(username: str | None, password: str | None) -> list[str]:
    """The credentials as written on the wire too (AUTH PLAIN/LOGIN base64): a server may echo them back."""
    plain = [s for s in (username, password) if s]
    wire = [f"\0{username}\0{password}"] if username and password else []
    return plain + [base64.b64encode(s.encode()).decode() for s in plain + wire]


def _client(login: SmtpLogin, timeout: float) -> smtplib.SMTP:
    """Not connected yet (no host given): the deadline's timer must hold it before the greeting is read."""
    if login.ssl:
        return smtplib.SMTP_SSL(timeout=timeout, context=ssl.create_default_context())
    return smtplib.SMTP(timeout=timeout)


def _greeted(smtp: smtplib.SMTP, login: SmtpLogin) -> None:
    """Connect and read the greeting, as smtplib does when given the host at construction."""
    # What the constructor would set: STARTTLS checks the certificate against it (typeshed omits the attribute).
    smtp._host = login.host  # type: ignore[attr-defined]
    code, reply = smtp.connect(login.host, login.port)
    if code != 220:
        raise smtplib.SMTPConnectError(code, reply)


def _shut(smtp: smtplib.SMTP) -> None:
    """Shut the connection down under a read blocked in another thread (it then sees the server hang up)."""
    sock = getattr(smtp, "sock", None)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    # PLAIN when offered: smtplib.login() would go on to try LOGIN after a refused password,
    # which some servers answer by waiting, turning "wrong password" into a timeout.
    smtp.ehlo_or_helo_if_needed()
    if "plain" in smtp.esmtp_features.get("auth", "").lower().split():
        smtp.user, smtp.password = username, password
        smtp.auth("PLAIN", smtp.auth_plain)
    else:
        smtp.login(username, password)
