"""The GitHub Actions workflows: triggers, least privilege, no overlapping runs, sane timing."""
from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from tracker.publish.schedule import cron_trigger, next_fire_times

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as boolean True
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


def script(workflow: dict) -> str:
    return "\n".join(str(step.get("run", "")) for step in steps(workflow))


def test_daily_triggers_on_schedule_and_manual_dispatch_with_dry_run():
    daily = load("daily.yml")
    [entry] = daily["on"]["schedule"]
    assert entry["cron"].split()[0] not in ("0", "*")  # off the top of the hour
    dry_run = daily["on"]["workflow_dispatch"]["inputs"]["dry_run"]
    assert dry_run["type"] == "boolean" and dry_run["default"] is False
    assert "--dry-run" in script(daily)


def test_daily_has_least_privilege_and_never_overlaps():
    daily = load("daily.yml")
    assert daily["permissions"] == {"contents": "write", "issues": "write"}
    assert all("permissions" not in job for job in daily["jobs"].values())
    assert daily["concurrency"]["group"] and daily["concurrency"]["cancel-in-progress"] is False


def test_daily_runs_after_every_arxiv_announcement_and_only_then():
    """arXiv announces Sun-Thu 20:00 New York time; each run should follow one by 1-8 hours."""
    cron = load("daily.yml")["on"]["schedule"][0]["cron"]
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC"))
    runs = next_fire_times(cron_trigger(cron, "UTC"), 5 * 52, start, "UTC")  # a year, both DST seasons
    announcements = next_fire_times(cron_trigger("0 20 * * 0-4", ny), 5 * 53, start - timedelta(days=2), ny)
    for run in runs:
        latest = max(a for a in announcements if a <= run)
        assert timedelta(hours=1) <= run - latest <= timedelta(hours=8), (run, latest)
    assert len({max(a for a in announcements if a <= run) for run in runs}) == len(runs)  # one run each


def test_daily_installs_cpu_torch_caches_and_pushes_with_retry():
    daily = load("daily.yml")
    text = script(daily)
    assert 'pip install -e ".[cpu]" --extra-index-url https://download.pytorch.org/whl/cpu' in text
    cached = [s["with"]["path"] for s in steps(daily) if str(s.get("uses", "")).startswith("actions/cache")]
    assert ".tracker" in cached and any("huggingface" in p for p in cached)
    assert any(s.get("with", {}).get("cache") == "pip" for s in steps(daily))
    assert "git diff --cached --quiet" in text  # commit only if something changed
    assert "git pull -q --rebase" in text and "--allow-empty" in text  # race retry; keep-alive
    order = [s.get("run", "") for s in steps(daily)]
    run_at = next(i for i, r in enumerate(order) if "tracker -v run" in r)
    publish_at = next(i for i, r in enumerate(order) if "tracker -v publish" in r)
    push_at = next(i for i, r in enumerate(order) if "git push" in r)
    assert run_at < push_at < publish_at  # the issue links to committed files


def test_ci_runs_the_tests_on_pushes_and_pull_requests():
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    assert ci["permissions"] == {"contents": "read"}
    assert "bash .ci/run" in script(ci)


@pytest.mark.parametrize("name", ["daily.yml", "ci.yml"])
def test_every_job_has_a_timeout(name):
    assert all(job.get("timeout-minutes") for job in load(name)["jobs"].values())
