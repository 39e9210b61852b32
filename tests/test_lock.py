"""One run at a time: tracker.store.lock, in-process and with real `tracker run` processes."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.arxiv_fake import entry, feed
from tracker.errors import TrackerError
from tracker.store.ledger import Ledger
from tracker.store.lock import HOLDER_FILE, LOCK_FILE, RunLocked, default_wait_seconds, read_holder, run_lock

ROOT = Path(__file__).parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def hold_in_subprocess(folder: Path, *, seconds: float = 30) -> subprocess.Popen:
    """Another process holding the lock, started once it has it."""
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from tracker.store.lock import run_lock
        with run_lock(Path({str(folder)!r}), command="tracker run --config x"):
            print("held", flush=True)
            time.sleep({seconds})
    """)
    process = subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_holder_info_is_written_while_held_and_removed_after(tmp_path):
    with run_lock(tmp_path, command="tracker run"):
        info = json.loads((tmp_path / HOLDER_FILE).read_text())
        assert info["pid"] == os.getpid() and info["command"] == "tracker run"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["started"])
        with run_lock(tmp_path):  # nested in the same thread: no deadlock
            pass
        assert (tmp_path / HOLDER_FILE).exists()
    assert not (tmp_path / HOLDER_FILE).exists()


def test_a_second_holder_waits_then_fails_naming_the_first(tmp_path):
    holder = hold_in_subprocess(tmp_path)
    try:
        started = time.monotonic()
        with pytest.raises(RunLocked) as info:
            with run_lock(tmp_path, wait_seconds=0.4):
                pytest.fail("got a lock another process holds")
        assert 0.35 <= time.monotonic() - started < 5
        message = str(info.value)
        assert f"pid {holder.pid}, started " in message and "tracker run --config x" in message
        assert "waited 0.4 s; nothing was done" in message and "\n" not in message
        assert info.value.exit_code == 1 and isinstance(info.value, TrackerError)
    finally:
        holder.kill()
        holder.wait()


def test_a_waiting_run_gets_the_lock_when_the_holder_finishes(tmp_path):
    holder = hold_in_subprocess(tmp_path, seconds=0.5)
    started = time.monotonic()
    with run_lock(tmp_path, wait_seconds=20):
        assert json.loads((tmp_path / HOLDER_FILE).read_text())["pid"] == os.getpid()
    assert time.monotonic() - started < 10
    holder.wait()


def test_a_killed_holder_never_blocks_and_its_stale_info_is_not_shown(tmp_path):
    holder = hold_in_subprocess(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    assert (tmp_path / LOCK_FILE).exists() and json.loads((tmp_path / HOLDER_FILE).read_text())["pid"] == holder.pid
    assert read_holder(tmp_path) is None  # the process is gone: stale
    started = time.monotonic()
    with run_lock(tmp_path, wait_seconds=0):
        assert time.monotonic() - started < 1
        assert json.loads((tmp_path / HOLDER_FILE).read_text())["pid"] == os.getpid()


@pytest.mark.parametrize("junk", ["", "{not json", '{"pid": "x"}', "[]"])
def test_damaged_holder_info_never_blocks(tmp_path, junk):
    (tmp_path / HOLDER_FILE).write_text(junk)
    with run_lock(tmp_path, wait_seconds=0):
        assert read_holder(tmp_path)["pid"] == os.getpid()


def test_the_wait_is_configurable_and_checked(monkeypatch):
    monkeypatch.setenv("TRACKER_LOCK_WAIT_SECONDS", "2.5")
    assert default_wait_seconds() == 2.5
    monkeypatch.setenv("TRACKER_LOCK_WAIT_SECONDS", "soon")
    with pytest.raises(TrackerError, match="TRACKER_LOCK_WAIT_SECONDS='soon' is not a number"):
        default_wait_seconds()
    monkeypatch.setenv("TRACKER_LOCK_WAIT_SECONDS", "-1")
    with pytest.raises(TrackerError, match="between 0 and 86400"):
        default_wait_seconds()


# --- two real `tracker run` processes -----------------------------------------------------

class SlowArxiv:
    """A loopback arXiv API answering the n-th request with the n-th feed, after `gate` opens."""

    def __init__(self, feeds: list[bytes]):
        self.feeds = feeds
        self.served = 0
        self.gate = threading.Event()
        self.gate.set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                owner.gate.wait(30)
                body = owner.feeds[min(owner.served, len(owner.feeds) - 1)]
                owner.served += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/query"

    def close(self):
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


def papers(prefix: int, count: int) -> bytes:
    return feed([entry(f"2611.{prefix + i:05d}", title=f"Testing paper {prefix + i}", updated=f"2026-11-{10 + i % 9:02d}T00:00:00Z")
                 for i in range(count)])


@pytest.fixture
def project(tmp_path):
    def make(server: SlowArxiv) -> list[str]:
        config = tmp_path / "keywords.yaml"
        config.write_text(textwrap.dedent(f"""\
            arxiv:
              api_url: {server.url}
              delay_seconds: 0
              backoff_seconds: 0
              retries: 0
              timeout_seconds: 30
              page_size: 100
            embedding:
              enabled: false
            output:
              readme_rows: 100
            topics:
              - name: Testing
                keywords: [testing]
            """))
        return [sys.executable, "-m", "tracker", "run", "--config", str(config), "--date", "2026-11-20", "--no-embed"]

    return make


def readme_ids(folder: Path) -> set[str]:
    return set(re.findall(r"arxiv\.org/abs/(\d{4}\.\d{5})", (folder / "README.md").read_text(encoding="utf-8")))


def test_two_runs_at_once_keep_every_paper_both_saw(tmp_path, project):
    server = SlowArxiv([papers(1, 20), papers(101, 20)])  # each run sees different papers
    server.gate.clear()  # hold the first fetch until both processes are up
    try:
        command = project(server)
        runs = [subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        deadline = time.monotonic() + 30
        while not (tmp_path / ".tracker" / HOLDER_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(1.0)  # the other process reaches the lock and waits (it logs so)
        server.gate.set()
        outputs = [run.communicate(timeout=60) for run in runs]
    finally:
        server.close()
    assert [run.returncode for run in runs] == [0, 0], outputs
    assert sum("another tracker run holds the lock" in err for _, err in outputs) == 1  # they really overlapped
    ledger = Ledger.load(tmp_path / "data")
    expected = {f"2611.{i:05d}" for i in [*range(1, 21), *range(101, 121)]}
    assert set(ledger.papers) == expected
    assert readme_ids(tmp_path) == expected  # README and ledger agree


def test_a_run_that_cannot_get_the_lock_exits_1_naming_the_holder_and_changes_nothing(tmp_path, project):
    server = SlowArxiv([papers(1, 5), papers(101, 5)])
    server.gate.clear()
    try:
        command = project(server)
        first = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not (tmp_path / ".tracker" / HOLDER_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        second = subprocess.run(command, env={**ENV, "TRACKER_LOCK_WAIT_SECONDS": "0.2"}, capture_output=True, text=True, timeout=60)
        assert not (tmp_path / "data").exists()  # the second run wrote nothing
        server.gate.set()
        out, err = first.communicate(timeout=60)
    finally:
        server.close()
    assert second.returncode == 1
    errors = [line for line in second.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: another tracker run is in progress (pid {first.pid}, started {errors[0].split('started ')[1].split(',')[0]}, "
                      "tracker run); waited 0.2 s; nothing was done"], second.stderr
    assert first.returncode == 0, err
    assert server.served == 1  # the locked-out run never fetched
    assert set(Ledger.load(tmp_path / "data").papers) == readme_ids(tmp_path) == {f"2611.{i:05d}" for i in range(1, 6)}
