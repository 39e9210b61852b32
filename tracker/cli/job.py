"""The job `tracker schedule` runs: `tracker run` (+ `tracker publish`), returning the run summary."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.errors import TrackerError
from tracker.redact import redact

if TYPE_CHECKING:
    from tracker.config import Settings


def daily_job(config_path: Path, and_publish: bool) -> Callable[[], Mapping[str, Any]]:
    """A callable doing one day's run; it re-reads keywords.yaml each time, so edits apply next run."""

    def job() -> Mapping[str, Any]:
        from tracker import pipeline
        from tracker.config import load_settings

        settings = load_settings(config_path)
        today = pipeline.today_utc()
        try:
            summary = pipeline.run_daily(settings, sources=pipeline.make_sources(settings), today=today).to_dict()
        except TrackerError as exc:
            if and_publish:
                _publish_health(settings, {"date": today, "topics": [], "error": redact(str(exc))})
            raise
        if and_publish:
            _publish(settings, today)
        return summary

    return job


def _publish(settings: Settings, date: str) -> None:
    from tracker.publish.client import connect_from_env
    from tracker.publish.publisher import publish_day

    publish_day(settings, connect_from_env(settings.publish.repo), date)


def _publish_health(settings: Settings, summary: Mapping[str, Any]) -> None:
    from tracker.publish.client import connect_from_env
    from tracker.publish.publisher import publish_health_only

    publish_health_only(settings, connect_from_env(settings.publish.repo), summary)
