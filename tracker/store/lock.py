"""One run at a time: a lock held for a whole run that writes the ledger or its outputs.

The lock is an OS file lock (filelock: flock on POSIX), so it dies with its process: a run
killed with -9 never leaves a lock that blocks the next. Beside it a small JSON file names
the holder (pid, host, start time, command) so a second run can say who it waited for; that
file is information only and never blocks anything, even when a killed run left it behind.

A second run waits up to `wait_seconds` (TRACKER_LOCK_WAIT_SECONDS overrides the default),
then fails with `RunLocked`, having done nothing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import filelock

from tracker.errors import TrackerError
from tracker.store.journal import WriteError, regular_file, write_atomic
from tracker.text import clean_line

log = logging.getLogger(__name__)
LOCK_FILE = "run.lock"
HOLDER_FILE = "run.lock.json"
DEFAULT_WAIT_SECONDS = 10.0
WAIT_ENV = "TRACKER_LOCK_WAIT_SECONDS"

_held: dict[Path, int] = {}  # folder -> thread holding it here: a nested run_lock is a no-op, not a deadlock
_held_guard = threading.Lock()


class RunLocked(TrackerError):
    """Another run holds the lock; this one did nothing (exit 1)."""


def default_wait_seconds() -> float:
    raw = os.environ.get(WAIT_ENV)
    if raw is None or not raw.strip():
        return DEFAULT_WAIT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise TrackerError(f"{WAIT_ENV}={raw!r} is not a number of seconds") from None
    if not 0 <= value <= 86400:
        raise TrackerError(f"{WAIT_ENV}={raw!r} must be between 0 and 86400 seconds")
    return value


@contextmanager
def run_lock(folder: Path, *, wait_seconds: float | None = None, command: str = "tracker") -> Iterator[None]:
    """Hold the run lock in `folder` for the block; wait up to `wait_seconds` for another holder."""
    folder = folder.resolve()
    with _held_guard:
        nested = _held.get(folder) == threading.get_ident()
    if nested:
        yield
        return
    wait = default_wait_seconds() if wait_seconds is None else wait_seconds
    lock = filelock.FileLock(folder / LOCK_FILE, thread_local=False)
    try:
        _prepare(folder)
        _acquire(lock, folder, wait)
    except OSError as exc:  # e.g. a read-only or full state folder
        raise WriteError.of(exc, folder / LOCK_FILE, "nothing was done") from exc
    try:
        with _held_guard:
            _held[folder] = threading.get_ident()
        _record_holder(folder, command)
        yield
    finally:
        with _held_guard:
            _held.pop(folder, None)
        _forget_holder(folder)
        lock.release()


def _prepare(folder: Path) -> None:
    """The state folder, with nothing in the way of the lock file (it is a cache: damage is cleared)."""
    if folder.exists() and not folder.is_dir():
        raise TrackerError(
            f"{folder} is a file, but the tracker keeps its state (run lock, caches) in a folder "
            "there: move the file away or set output.state_dir; nothing was done"
        )
    folder.mkdir(parents=True, exist_ok=True)
    for name in (LOCK_FILE, HOLDER_FILE):
        path = folder / name
        if path.is_symlink():  # the lock is never taken through a link (filelock refuses one): drop the link
            path.unlink()
            log.warning("removed %s, a link where the run lock goes (whatever it pointed to is untouched)", path)
        elif path.is_dir():
            try:
                path.rmdir()
            except OSError:
                if name == HOLDER_FILE:
                    continue  # information only: _record_holder warns
                raise TrackerError(
                    f"{path} is a folder where the tracker keeps its run lock; remove it; nothing was done"
                ) from None
            log.warning("removed the empty folder %s, which stood where the run lock goes", path)


def _record_holder(folder: Path, command: str) -> None:
    """Who holds the lock, for a second run's message. Information only: failing to write it blocks nothing."""
    try:
        write_atomic(folder / HOLDER_FILE, json.dumps(_me(command), sort_keys=True) + "\n")
    except OSError as exc:
        log.warning(
            "could not record the lock holder in %s (%s); runs are still one at a time", folder / HOLDER_FILE, exc
        )


def _acquire(lock: filelock.FileLock, folder: Path, wait: float) -> None:
    try:
        lock.acquire(timeout=0)
        return
    except filelock.Timeout:
        pass
    log.warning("another tracker run holds the lock (%s); waiting up to %g s", describe(read_holder(folder)), wait)
    try:
        lock.acquire(timeout=wait)
    except filelock.Timeout:
        holder = describe(read_holder(folder))
        raise RunLocked(f"another tracker run is in progress ({holder}); waited {wait:g} s; nothing was done") from None


def _me(command: str) -> dict[str, Any]:
    started = datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return {"pid": os.getpid(), "host": socket.gethostname(), "started": started, "command": command}


def read_holder(folder: Path) -> dict[str, Any] | None:
    """The holder info, or None when absent, unreadable or left by a process that is gone."""
    if not regular_file(folder / HOLDER_FILE):  # a FIFO would block the read
        return None
    try:
        info = json.loads((folder / HOLDER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(info, dict) or not isinstance(info.get("pid"), int):
        return None
    if info.get("host") == socket.gethostname() and not _alive(info["pid"]):
        return None  # stale: written by a run that was killed
    return info


def describe(holder: dict[str, Any] | None) -> str:
    if holder is None:
        return "holder unknown"

    def shown(value: Any) -> str:  # the file is on disk, so its text is untrusted: one short clean line
        return clean_line(str(value))[:80]

    host = f" on {shown(holder['host'])}" if holder.get("host") != socket.gethostname() else ""
    command = f", {shown(holder['command'])}" if holder.get("command") else ""
    return f"pid {holder['pid']}{host}, started {shown(holder.get('started', '?'))}{command}"


def _forget_holder(folder: Path) -> None:
    if not regular_file(folder / HOLDER_FILE):
        return
    try:
        info = json.loads((folder / HOLDER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return
    if isinstance(info, dict) and info.get("pid") == os.getpid():
        (folder / HOLDER_FILE).unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except (OSError, OverflowError):
        return False
    return True
