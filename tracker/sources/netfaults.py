"""Transport faults: a total deadline per request, and one short line saying what went wrong.

requests/urllib3 timeouts bound each socket read, so a server sending a byte every few
seconds never times out. `Watchdog` bounds the whole request instead: a timer that shuts the
request's socket down (which wakes the blocked read) once the deadline passes. The socket is
found through urllib3 connection classes that report it as they connect and send.
"""

from __future__ import annotations

import errno
import http.client
import re
import socket
import threading
from collections.abc import Iterator

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager

TRANSPORT_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
OFFLINE_HINT = "are you offline? (tracker demo runs the whole pipeline offline)"
_NO_ROUTE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}
_local = threading.local()
# urllib3 1.26 has no NameResolutionError; its resolution failures carry socket.gaierror anyway.
_NAME_ERROR = getattr(urllib3.exceptions, "NameResolutionError", socket.gaierror)


# --- the deadline ----------------------------------------------------------------------------


def _cut(sock: socket.socket | None) -> None:
    if sock is None:
        return
    try:  # the plain-socket shutdown, also for TLS sockets: wakes a read blocked in another thread
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


class Watchdog:
    """`with Watchdog(seconds) as w:` cuts the connection of any request made inside at the deadline."""

    def __init__(self, seconds: float):
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        _local.watchdog = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        _local.watchdog = None

    def track(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._socks.append(sock)
            if self.expired:
                _cut(sock)

    def track_response(self, response: requests.Response) -> None:
        """The body's socket, for connection classes this module could not install (SOCKS proxies)."""
        connection = getattr(response.raw, "connection", None)
        self.track(getattr(connection, "sock", None))

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._socks:
                _cut(sock)


def _track(sock: socket.socket | None) -> None:
    watchdog = getattr(_local, "watchdog", None)
    if watchdog is not None:
        watchdog.track(sock)


class _Watched:
    """Mixin for urllib3 connections: hand the socket to the running request's watchdog."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]  # a mixin: urllib3's connection class comes after it
        _track(self.sock)  # type: ignore[attr-defined]

    def request(self, *args, **kwargs):
        _track(self.sock)  # a kept-alive connection: no connect()
        return super().request(*args, **kwargs)


class _Connection(_Watched, HTTPConnection):
    pass


class _TLSConnection(_Watched, HTTPSConnection):
    pass


class _Pool(HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


_POOLS = {"http": _Pool, "https": _TLSPool}


class WatchedAdapter(HTTPAdapter):
    """requests' adapter, with connections a Watchdog can cut (direct and through HTTP proxies)."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is ProxyManager:  # SOCKS managers bring their own connection classes
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


class BodyTooLarge(requests.RequestException):
    """More bytes than any arXiv page: the server is not arXiv, or is misbehaving."""


def read_body(response: requests.Response, limit: int) -> bytes:
    """The decoded body, refusing more than `limit` bytes."""
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"more than {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


# --- one short line per fault ------------------------------------------------------------------


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps (causes, contexts, urllib3 reasons, args)."""
    seen, stack = set(), [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        stack += [e for e in wrapped if isinstance(e, BaseException)]  # ssl errors' `reason` is a str


def unusable_url(exc: BaseException) -> str | None:
    """Why the URL itself cannot be requested (a config problem, not a network one)."""
    for error in _chain(exc):
        if isinstance(error, (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema)):
            return "it needs to start with https:// (or http://)"
        if isinstance(error, (requests.exceptions.InvalidURL, urllib3.exceptions.LocationParseError)):
            text = re.sub(r"'[^']*'|\S+://\S*|\S*\?\S*", "", str(error))  # the reason, without the (long) URL
            return _short(" ".join(text.replace(" :", ":").split()).strip(" :") or "invalid URL", 80)
    return None


def unreachable_cause(exc: BaseException, host: str, timeout: float) -> str | None:
    """One line when arXiv could not be reached at all (name, route, refusal, connect timeout, TLS)."""
    chain = list(_chain(exc))
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host

    def has(kind) -> bool:
        return any(isinstance(e, kind) for e in chain)

    if has(socket.gaierror) or has(_NAME_ERROR):
        return f"cannot resolve {name}: {OFFLINE_HINT}"
    if has(requests.exceptions.ProxyError) or has(urllib3.exceptions.ProxyError):
        return f"cannot reach {host} through the configured proxy: {OFFLINE_HINT}"
    if has(ConnectionRefusedError):
        return f"cannot connect to {host}: connection refused; {OFFLINE_HINT}"
    route = next((e for e in chain if isinstance(e, OSError) and e.errno in _NO_ROUTE), None)
    if route is not None:
        return f"cannot reach {host}: {route.strerror or 'no route'}; {OFFLINE_HINT}"
    if has(requests.exceptions.ConnectTimeout) or has(urllib3.exceptions.ConnectTimeoutError):
        return f"cannot connect to {host}: no answer within {timeout:g} s; {OFFLINE_HINT}"
    if has(requests.exceptions.SSLError):
        detail = next((str(e) for e in reversed(chain) if str(e)), "")
        return f"cannot open a TLS connection to {host} ({_short(detail)}): check the certificates or proxy"
    return None


def describe(exc: BaseException, host: str, timeout: float) -> str:
    """A short account of a retryable transport failure."""
    chain = list(_chain(exc))
    innermost = next((e for e in reversed(chain) if str(e)), exc)
    name, text = type(innermost).__name__, _short(str(innermost))
    detail = "" if innermost is exc else f" ({text})" if text.startswith(name) else f" ({name}: {text})"
    if isinstance(exc, BodyTooLarge):
        return f"answer from {host} too large ({exc})"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"redirect loop at {host} ({_short(str(exc))})"
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return f"undecodable body from {host}{detail}"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"connection to {host} broken mid-body{detail}"
    if any(
        isinstance(e, (requests.exceptions.ReadTimeout, urllib3.exceptions.ReadTimeoutError, TimeoutError))
        for e in chain
    ):
        return f"no data from {host} for {timeout:g} s"
    return f"connection to {host} failed: {type(exc).__name__}{detail}"


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
