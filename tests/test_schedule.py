"""tracker.publish.schedule: crontab semantics on APScheduler 3, DST, and a real short scheduler run."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from tracker.errors import TrackerError
from tracker.publish.schedule import crontab_weekdays, cron_trigger, next_fire_times, run_scheduler

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("0", "sun"),
        ("7", "sun"),
        ("1", "mon"),
        ("6", "sat"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0-4", "mon,tue,wed,thu,sun"),  # Sunday..Thursday, arXiv's announcement days
        ("mon-fri", "mon,tue,wed,thu,fri"),
        ("Sun,WED", "wed,sun"),
        ("saturday", "sat"),
        ("*/2", "tue,thu,sat,sun"),  # 0,2,4,6
        ("1-5/2", "mon,wed,fri"),
        ("5-7", "fri,sat,sun"),
        ("fri-sun", "fri,sat,sun"),
        ("0,7", "sun"),
        ("0-6", "*"),
        ("1-3,5", "mon,tue,wed,fri"),
    ],
)
def test_crontab_weekdays_translate_to_unambiguous_names(field, expected):
    assert crontab_weekdays(field) == expected


@pytest.mark.parametrize("field", ["8", "funday", "5-1", "1-5/0", "mon-", ""])
def test_invalid_weekday_fields_name_the_field(field):
    with pytest.raises(TrackerError, match="day-of-week"):
        crontab_weekdays(field)


def fire_days(expr: str, start: datetime, count: int = 7, tz: str = "UTC") -> list[str]:
    return [t.strftime("%a") for t in next_fire_times(cron_trigger(expr, tz), count, start, tz)]


def test_weekday_numbers_fire_on_crontab_days_not_apschedulers():
    monday = datetime(2026, 11, 16, tzinfo=ZoneInfo("UTC"))
    assert fire_days("0 9 * * 1", monday, 2) == ["Mon", "Mon"]  # from_crontab would say Tue
    assert fire_days("0 9 * * 0", monday, 2) == ["Sun", "Sun"]
    assert fire_days("17 2 * * 1-5", monday, 6) == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]


def test_day_of_month_or_weekday_like_crontab():
    # crontab: "on the 1st OR on Fridays"; APScheduler alone would need both
    start = datetime(2026, 2, 1, tzinfo=ZoneInfo("UTC"))
    got = [t.date().isoformat() for t in next_fire_times(cron_trigger("0 9 1 * 5", "UTC"), 6, start, "UTC")]
    assert got == ["2026-02-01", "2026-02-06", "2026-02-13", "2026-02-20", "2026-02-27", "2026-03-01"]


def test_print_next_keeps_wall_time_across_dst_start():
    times = next_fire_times(cron_trigger("0 20 * * 0-4", "America/New_York"), 3, datetime(2026, 3, 5, tzinfo=NY), NY)
    assert [t.isoformat() for t in times] == [
        "2026-03-05T20:00:00-05:00",  # Thursday, EST
        "2026-03-08T20:00:00-04:00",  # Sunday, EDT from 2026-03-08
        "2026-03-09T20:00:00-04:00",
    ]


def test_time_in_the_skipped_hour_fires_once_after_the_jump():
    times = next_fire_times(cron_trigger("30 2 * * *", "America/New_York"), 3, datetime(2026, 3, 7, 12, tzinfo=NY), NY)
    assert [t.isoformat() for t in times] == [
        "2026-03-08T03:30:00-04:00",  # 02:30 does not exist that night
        "2026-03-09T02:30:00-04:00",
        "2026-03-10T02:30:00-04:00",
    ]


def test_time_in_the_repeated_hour_fires_once_at_dst_end():
    times = next_fire_times(cron_trigger("30 1 * * *", "America/New_York"), 3, datetime(2026, 10, 31, 12, tzinfo=NY), NY)
    assert [t.isoformat() for t in times] == [
        "2026-11-01T01:30:00-04:00",  # once, not again at 01:30 EST
        "2026-11-02T01:30:00-05:00",
        "2026-11-03T01:30:00-05:00",
    ]


def test_bad_expressions_and_timezones_are_tracker_errors():
    with pytest.raises(TrackerError, match="5 fields"):
        cron_trigger("0 9 * *", "UTC")
    with pytest.raises(TrackerError, match="invalid"):
        cron_trigger("61 9 * * *", "UTC")
    with pytest.raises(TrackerError, match="unknown timezone"):
        cron_trigger("0 9 * * *", "Mars/Olympus")
    assert fire_days("@daily", datetime(2026, 11, 16, tzinfo=ZoneInfo("UTC")), 2) == ["Mon", "Tue"]


def test_scheduler_fires_the_job_logs_its_summary_and_stops_on_sigterm(tmp_path):
    # In its own process: a SIGTERM sent to the test runner itself would also reach whatever
    # native libraries earlier tests loaded there.
    script = tmp_path / "sched.py"
    script.write_text(textwrap.dedent("""
        import logging, os, signal, sys, time
        from apscheduler.triggers.interval import IntervalTrigger
        from tracker.publish.schedule import run_scheduler
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        calls = []
        previous = signal.getsignal(signal.SIGTERM)
        def job():
            calls.append(time.monotonic())
            os.kill(os.getpid(), signal.SIGTERM)  # as `kill` / systemd stop would
            return {"date": "2026-11-20", "totals": {"fetched": 9, "new": 4, "revised": 1, "failed_topics": 0}}
        started = time.monotonic()
        run_scheduler(job, IntervalTrigger(seconds=0.2))
        print("calls", len(calls), "seconds", round(time.monotonic() - started, 1))
        print("handlers restored", signal.getsignal(signal.SIGTERM) is previous, flush=True)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=os.getcwd())
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "calls 1 " in out and float(out.split("seconds ")[1].split()[0]) < 5
    assert "run 2026-11-20: fetched 9, new 4, revised 1, failed topics 0" in out
    assert "scheduler stopped" in out
    assert "handlers restored True" in out


def test_sigint_stops_a_scheduler_process_cleanly(tmp_path):
    script = tmp_path / "sched.py"
    script.write_text(textwrap.dedent("""
        import logging, sys
        from apscheduler.triggers.interval import IntervalTrigger
        from tracker.publish.schedule import run_scheduler
        logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
        def job():
            print("ran", flush=True)
            return {"date": "d", "totals": {}}
        run_scheduler(job, IntervalTrigger(seconds=0.1))
        print("exited cleanly", flush=True)
    """))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=os.getcwd())
    try:
        for line in proc.stdout:
            if line.strip() == "ran":
                break
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "exited cleanly" in out and "Traceback" not in out
