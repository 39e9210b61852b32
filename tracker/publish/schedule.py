"""Run the daily job on a crontab schedule with APScheduler 3 (BlockingScheduler).

No logic of its own beyond scheduling: the job is a callable passed in (e.g. a closure over
`run_daily`) returning a summary dict, which is logged after each run.

Crontab semantics are kept where APScheduler 3 differs:
- day-of-week numbers: crontab 0/7 = Sunday, 1 = Monday; APScheduler counts Monday = 0, so
  `CronTrigger.from_crontab("0 9 * * 1")` would fire on Tuesdays. We translate the field to names.
- day-of-month AND day-of-week both restricted: crontab fires when EITHER matches; APScheduler
  needs both, so we OR two triggers.
- a fixed wall time inside the repeated hour at the end of DST fires once, as in cron.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, tzinfo
from datetime import timezone as dt_timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger  # ~40 ms; the CLI imports this module lazily

from tracker.errors import TrackerError, UsageError

log = logging.getLogger(__name__)

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # crontab numbering: index = number
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


# --------------------------------------------------------------------------- crontab translation


def crontab_weekdays(field: str) -> str:
    """Translate a crontab day-of-week field into an APScheduler one, as a list of day names.

    Accepts numbers 0-7 (0 and 7 = Sunday), names (sun..sat, any case), ranges (1-5, mon-fri),
    steps (*/2, 1-5/2) and lists of these. Returns "*" for every day.
    """
    field = field.strip().lower()
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        days |= _weekday_item(item.strip(), field)
    if days == set(range(7)):
        return "*"
    return ",".join(_DAY_NAMES[d] for d in sorted(days, key=lambda d: (d + 6) % 7))  # Monday first


def _weekday_item(item: str, field: str) -> set[int]:
    """Crontab day numbers (0 = Sunday) named by one list item such as "mon-fri/2"."""
    base, _, step_text = item.partition("/")
    step = _number(step_text, field) if step_text else 1
    if step < 1:
        raise TrackerError(f"cron day-of-week {field!r}: step must be at least 1")
    if base == "*":
        low, high = 0, 6
    elif "-" in base:
        start, _, end = base.partition("-")
        low, high = _weekday(start, field), _weekday(end, field)
        if high == 0 and low > 0:  # "fri-sun" / "5-0": Sunday as the end of a range is day 7
            high = 7
    else:
        low = _weekday(base, field)
        high = 7 if step_text else low  # "1/2" means from Monday to the end of the week, every 2
    if low > high:
        raise TrackerError(f"cron day-of-week {field!r}: range {base!r} runs backwards")
    return {d % 7 for d in range(low, high + 1, step)}  # 7 -> 0: both mean Sunday


_FULL_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")


def _weekday(text: str, field: str) -> int:
    if text in _DAY_NAMES:
        return _DAY_NAMES.index(text)
    if text in _FULL_NAMES:
        return _FULL_NAMES.index(text)
    value = _number(text, field)
    if value > 7:
        raise TrackerError(f"cron day-of-week {field!r}: {text!r} is not a day (0-7 or sun-sat)")
    return value


def _number(text: str, field: str) -> int:
    if not text.isdigit():
        raise TrackerError(f"cron day-of-week {field!r}: {text!r} is not a day (0-7 or sun-sat)")
    return int(text)


def cron_trigger(expr: str, timezone: str | tzinfo) -> Any:
    """An APScheduler trigger firing when the 5-field crontab `expr` would, in `timezone`."""
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    tz = resolve_timezone(timezone)
    fields = _MACROS.get(expr.strip().lower(), expr).split()
    if len(fields) != 5:
        raise TrackerError(f"cron expression {expr!r} must have 5 fields: minute hour day month weekday")
    minute, hour, day, month, weekday = fields
    weekday = crontab_weekdays(weekday)
    common = {"minute": minute, "hour": hour, "month": month, "timezone": tz}
    try:
        if day not in ("*", "?") and weekday != "*":  # crontab: either field may match
            trigger: Any = OrTrigger([CronTrigger(day=day, **common), CronTrigger(day_of_week=weekday, **common)])
        else:
            trigger = CronTrigger(day=day, day_of_week=weekday, **common)
    except ValueError as exc:
        raise TrackerError(f"cron expression {expr!r} is invalid: {exc}") from None
    crontab = CrontabTrigger(trigger, tz)
    if (
        crontab.get_next_fire_time(None, datetime.now(tz)) is None
    ):  # e.g. "0 0 30 2 *": the scheduler would wait forever
        raise UsageError(f"cron expression {expr!r} never fires: no date matches its day and month fields")
    return crontab


def resolve_timezone(timezone: str | tzinfo) -> tzinfo:
    if not isinstance(timezone, str):
        return timezone

    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TrackerError(f"unknown timezone {timezone!r}: use an IANA name such as Europe/Berlin") from None


class CrontabTrigger(BaseTrigger):
    """Wraps an APScheduler trigger to fix two DST behaviours cron users do not expect.

    - APScheduler 3 steps from the previous fire time with wall-clock arithmetic, which loses
      the `fold` of a time in the repeated hour; we step in UTC instead.
    - A fixed wall time inside the repeated hour ("30 1 * * *" when clocks go back) fires once,
      as in cron, not at both 01:30 EDT and 01:30 EST.
    """

    def __init__(self, inner: BaseTrigger, tz: tzinfo) -> None:
        self.inner, self.tz = inner, tz

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        start = now if previous_fire_time is None else min(now, _after(previous_fire_time))
        nxt = self.inner.get_next_fire_time(None, start.astimezone(self.tz))
        if nxt and previous_fire_time and _wall(nxt, self.tz) == _wall(previous_fire_time, self.tz):
            nxt = self.inner.get_next_fire_time(None, _after(nxt).astimezone(self.tz))
        return nxt

    def __str__(self) -> str:
        return str(self.inner)


def _after(moment: datetime) -> datetime:
    """The instant just after `moment`, computed in UTC (aware arithmetic in a zone is wall-clock)."""
    return moment.astimezone(dt_timezone.utc) + timedelta(microseconds=1)


def _wall(moment: datetime, tz: tzinfo) -> datetime:
    return moment.astimezone(dt_timezone.utc).astimezone(tz).replace(tzinfo=None)


def next_fire_times(trigger: Any, count: int, now: datetime, tz: str | tzinfo) -> list[datetime]:
    """The next `count` fire times after `now`, as aware datetimes in `tz` (real offsets)."""
    zone = resolve_timezone(tz)
    times: list[datetime] = []
    previous = None
    while len(times) < count:
        nxt = trigger.get_next_fire_time(previous, now)
        if nxt is None:
            break
        times.append(nxt.astimezone(dt_timezone.utc).astimezone(zone))  # normalises DST-gap times
        previous, now = nxt, _after(nxt)
    return times


# --------------------------------------------------------------------------- running


def summary_line(summary: Mapping[str, Any] | None) -> str:
    """One log line for a run's summary dict (see RunSummary.to_dict)."""
    if not summary:
        return "run finished (no summary)"
    totals = summary.get("totals", {})
    return (
        f"run {summary.get('date', '?')}: fetched {totals.get('fetched', 0)}, new {totals.get('new', 0)}, "
        f"revised {totals.get('revised', 0)}, failed topics {totals.get('failed_topics', 0)}"
    )


def _run_logged(job: Callable[[], Mapping[str, Any] | None]) -> None:
    try:
        log.info("%s", summary_line(job()))
    except TrackerError as exc:  # one clear line; the scheduler keeps going to the next fire time
        log.error("scheduled run failed: %s", exc)


def run_scheduler(
    job: Callable[[], Mapping[str, Any] | None],
    trigger: Any,
    *,
    misfire_grace_time: int = 3600,
    handle_signals: bool = True,
    scheduler: Any = None,
) -> None:
    """Block, calling `job` at each fire time, until SIGINT/SIGTERM (or `scheduler.shutdown()`).

    coalesce: after downtime, missed runs collapse into one; max_instances=1: a slow run is
    never overlapped by the next; misfire_grace_time: a run late by more than this is skipped.
    On a signal the scheduler stops taking new runs and waits for a running job to finish.
    """
    from apscheduler.schedulers.blocking import BlockingScheduler

    sched = scheduler or BlockingScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": misfire_grace_time}
    )
    sched.add_job(_run_logged, trigger, args=[job], id="daily", name="tracker run")
    stop = threading.Event()
    stopper = threading.Thread(target=_stop_when_set, args=(stop, sched), name="tracker-stop", daemon=True)
    stopper.start()
    previous = _install_stop_signals(stop) if handle_signals else {}
    try:
        log.info("scheduler started; next run at %s", _first_fire(trigger))
        sched.start()
    finally:
        stop.set()
        stopper.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("scheduler stopped")


def _install_stop_signals(stop: threading.Event) -> dict[int, Any]:
    def handler(signum: int, _frame: Any) -> None:
        # Only set an event: shutting down (or logging) inside a handler can deadlock on locks the
        # interrupted main thread holds, and exceptions raised here are swallowed by APScheduler.
        # A note on the Event itself for _stop_when_set (mypy: an attribute Event does not declare).
        stop.signal_name = signal.Signals(signum).name  # type: ignore[attr-defined]
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _stop_when_set(stop: threading.Event, sched: Any) -> None:
    from apscheduler.schedulers import SchedulerNotRunningError

    stop.wait()
    if name := getattr(stop, "signal_name", None):
        log.info("received %s; finishing the current run (if any) and stopping", name)
    try:
        sched.shutdown(wait=True)  # waits for a running job; wakes the blocking main loop
    except SchedulerNotRunningError:
        pass


def _first_fire(trigger: Any) -> str:
    nxt = trigger.get_next_fire_time(None, datetime.now().astimezone())
    return nxt.isoformat() if nxt else "never"
