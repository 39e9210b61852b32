"""`tracker publish` and `tracker schedule`: thin commands over tracker.publish.github / tracker.publish.schedule.

What publish reads (all relative to the config file's folder, which is the repository root):
  digests/YYYY/MM/YYYY-MM-DD.md   the day's rendered digest (output.digest_dir)
  data/                           the ledger, to count the day's new/revised papers
  .tracker/last_run.json          the run summary: health report, and the files for --commit
"""
from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from tracker.errors import TrackerError

log = logging.getLogger(__name__)

_config_option = click.option(
    "--config", "config_path", default="keywords.yaml", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path), help="The topics file; paths in it resolve relative to it.",
)


def _load(config_path: Path) -> Any:
    from tracker.config import load_settings

    return load_settings(config_path)


@dataclass(frozen=True)
class DayToPublish:
    date: str
    new_count: int
    revised_count: int
    digest_markdown: str
    digest_file: Path
    summary: Mapping[str, Any] | None  # the run summary for this date, if the run recorded one


def gather_day(settings: Any, date: str) -> DayToPublish:
    """Everything publishing needs for `date`, read from the files the run wrote."""
    from tracker.render.digest import papers_of_day
    from tracker.store.ledger import Ledger
    from tracker.render.markdown import digest_path

    new_papers, revised_papers = papers_of_day(Ledger.load(settings.path(settings.output.data_dir)).papers.values(), date)
    new, revised = len(new_papers), len(revised_papers)
    digest_file = digest_path(settings.path(settings.output.digest_dir), date)
    if digest_file.is_file():
        markdown = digest_file.read_text(encoding="utf-8")
    elif new or revised:
        raise TrackerError(f"digest {digest_file} not found: run `tracker run --date {date}` before publishing")
    else:
        markdown = ""
    return DayToPublish(date, new, revised, markdown, digest_file, read_summary(settings, date))


def read_summary(settings: Any, date: str) -> Mapping[str, Any] | None:
    path = settings.path(settings.output.state_dir) / "last_run.json"
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise TrackerError(f"cannot read run summary {path}: {exc}") from None
    return summary if summary.get("date") == date else None


def digest_url(settings: Any, day: DayToPublish, repo_name: str | None, committed: bool) -> str | None:
    """Link to the committed digest on GitHub, when we know it is committed (Actions or --commit)."""
    if not repo_name or not (committed or os.environ.get("GITHUB_ACTIONS") == "true"):
        return None
    server = os.environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
    ref = os.environ.get("GITHUB_REF_NAME") or "HEAD"
    return f"{server}/{repo_name}/blob/{ref}/{_repo_path(settings, day.digest_file)}"


def _repo_path(settings: Any, path: Path) -> str:
    try:
        return Path(path).resolve().relative_to(settings.path(".")).as_posix()
    except ValueError:
        raise TrackerError(f"{path} is outside the config folder {settings.path('.')}; cannot commit it") from None


def output_files(settings: Any, summary: Mapping[str, Any] | None, date: str) -> dict[str, bytes]:
    """The files the day's run wrote, keyed by repository path, for --commit."""
    if summary is None:
        raise TrackerError(f"--commit needs .tracker/last_run.json from the run of {date}: run `tracker run` first")
    files = {}
    for name in summary.get("outputs", []):
        path = settings.path(name)
        if path.is_file():  # outputs also lists stale pages the run deleted; those stay as they are
            files[_repo_path(settings, path)] = path.read_bytes()
    return files


def health_summary(day: DayToPublish) -> Mapping[str, Any]:
    """The run's summary, or a failure record when the run never wrote one for this date."""
    if day.summary is not None:
        return day.summary
    return {"date": day.date, "topics": [], "error": "the run recorded no summary for this date (it failed early)"}


# --------------------------------------------------------------------------- publish


@click.command("publish")
@_config_option
@click.option("--date", "run_date", help="The day to publish, YYYY-MM-DD (default: today, UTC; also reports run health).")
@click.option("--repo", "repo_name", help="OWNER/NAME (default: publish.repo in the config, then $GITHUB_REPOSITORY).")
@click.option("--dry-run", is_flag=True, help="Print what would be published; no network, no token needed.")
@click.option("--commit", "commit_mode", is_flag=True, help="First commit the run's files through the contents API (no checkout needed).")
def publish_command(config_path: Path, run_date: str | None, repo_name: str | None, dry_run: bool, commit_mode: bool) -> None:
    """Open or update the day's digest issue, close older ones, and report run health.

    Reads digests/YYYY/MM/DATE.md, the ledger and .tracker/last_run.json. Needs GITHUB_TOKEN
    (issues:write; contents:write with --commit); TRACKER_GITHUB_API_URL for GitHub Enterprise.
    Publishing the same day again updates its issue instead of opening another.

    Example: tracker publish --repo acme/papers --dry-run
    """
    from tracker.publish import github as publish
    from tracker.pipeline import today_utc

    settings = _load(config_path)
    date = _valid_date(run_date) if run_date else today_utc()
    with_health = run_date is None  # health is about today's run, not a re-published old day
    day = gather_day(settings, date)
    repo_name = repo_name or settings.publish.repo or os.environ.get("GITHUB_REPOSITORY")
    if dry_run:
        _print_dry_run(settings, day, repo_name, with_health)
        return
    repo = publish.connect_from_env(repo_name)
    if commit_mode:
        changed = publish.commit_files(repo, output_files(settings, day.summary, date), message=f"arXiv digest {date}")
        click.echo(f"committed {len(changed)} changed file(s) via the contents API")
    result = publish.publish_digest(
        repo, date=date, new_count=day.new_count, revised_count=day.revised_count,
        digest_markdown=day.digest_markdown, digest_url=digest_url(settings, day, repo.full_name, commit_mode),
        label=settings.publish.label, empty_day=settings.publish.empty_day,
        template_dir=_templates_dir(settings),
    )
    if result.action == "skipped":
        click.echo(f"{date}: nothing new; no issue (publish.empty_day: skip)")
    else:
        click.echo(f"digest issue #{result.number} {result.action} ({result.parts} part(s)): {result.url}")
    if result.closed:
        click.echo("closed earlier digest issue(s): " + ", ".join(f"#{n}" for n in result.closed))
    if with_health:
        health = publish.report_health(
            repo, health_summary(day), label=settings.publish.health_label, run_url=os.environ.get("TRACKER_RUN_URL")
        )
        if health.action != "none":
            click.echo(f"health issue #{health.number} {health.action}")


def _valid_date(value: str) -> str:
    import datetime

    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD", param_hint="--date") from None


def _templates_dir(settings: Any) -> Path:
    out = settings.output
    return settings.path(out.templates_dir) if out.templates_dir else settings.path("templates")


def _print_dry_run(settings: Any, day: DayToPublish, repo_name: str | None, with_health: bool) -> None:
    from tracker.publish import github as publish

    target = repo_name or "(no repository set)"
    if day.new_count == 0 and day.revised_count == 0 and settings.publish.empty_day == "skip":
        click.echo(f"{day.date}: nothing new; would open no issue in {target} (publish.empty_day: skip)")
    else:
        body = publish.render_issue_body(
            date=day.date, new_count=day.new_count, revised_count=day.revised_count,
            digest_markdown=day.digest_markdown, digest_url=None, template_dir=_templates_dir(settings),
        )
        parts = publish.digest_parts(day.date, body)
        sizes = " + ".join(f"{publish.body_size(p):,}" for p in parts)
        click.echo(f"would publish to {target} [{settings.publish.label}]: {publish.digest_title(day.date, day.new_count)!r}")
        click.echo(f"{len(parts)} part(s): {sizes} characters (issue body, then comments)")
        for n, part in enumerate(parts, start=1):
            click.echo(f"----- part {n}/{len(parts)} -----")
            click.echo(part.rstrip("\n"))
    if with_health:
        problems = publish.health_problems(health_summary(day))
        if problems:
            click.echo(f"health: would open/update a [{settings.publish.health_label}] issue: {len(problems)} problem(s)")
        else:
            click.echo(f"health: the run was clean; would close an open [{settings.publish.health_label}] issue, if any")


# --------------------------------------------------------------------------- schedule


@click.command("schedule")
@_config_option
@click.option("--cron", "cron_expr", help='Crontab expression, e.g. "17 2 * * 1-5" (0/7 = Sunday). Default: schedule.cron.')
@click.option("--timezone", "tz_name", help="IANA time zone, e.g. America/New_York. Default: schedule.timezone.")
@click.option("--print-next", type=click.IntRange(1, 1000), help="Print the next N run times and exit.")
@click.option("--misfire-grace", type=click.IntRange(1), default=3600, show_default=True, help="Seconds a late run may still start.")
@click.option("--publish/--no-publish", "and_publish", default=False, help="Publish the issue after each run (needs GITHUB_TOKEN).")
def schedule_command(
    config_path: Path, cron_expr: str | None, tz_name: str | None, print_next: int | None, misfire_grace: int, and_publish: bool
) -> None:
    """Run `tracker run` on a crontab schedule in the foreground, until Ctrl-C / SIGTERM.

    Missed runs (machine asleep) collapse into one; a slow run is never overlapped.

    Example: tracker schedule --cron "17 2 * * 1-5" --timezone UTC --print-next 5
    """
    from datetime import datetime

    from tracker.publish import schedule

    settings = _load(config_path) if not (cron_expr and tz_name and print_next) else None
    cron_expr = cron_expr or settings.schedule.cron
    tz_name = tz_name or settings.schedule.timezone
    trigger = schedule.cron_trigger(cron_expr, tz_name)
    if print_next:
        for moment in schedule.next_fire_times(trigger, print_next, datetime.now().astimezone(), tz_name):
            click.echo(f"{moment.isoformat()}  {moment:%a %Z}")
        return
    click.echo(f"running `tracker run` at {cron_expr!r} ({tz_name}); Ctrl-C to stop", err=True)
    schedule.run_scheduler(_daily_job(config_path, and_publish), trigger, misfire_grace_time=misfire_grace)


def _daily_job(config_path: Path, and_publish: bool) -> Any:
    """The scheduled job: the same work as `tracker run` (+ `tracker publish`), returning the summary."""

    def job() -> Mapping[str, Any]:
        from tracker import pipeline

        settings = _load(config_path)  # re-read each time: keywords.yaml edits apply to the next run
        today = pipeline.today_utc()
        try:
            summary = pipeline.run_daily(settings, sources=pipeline.make_sources(settings), today=today).to_dict()
        except TrackerError as exc:
            if and_publish:
                _publish_health(settings, {"date": today, "topics": [], "error": str(exc)})
            raise
        if and_publish:
            _publish_day(settings, today)
        return summary

    return job


def _publish_day(settings: Any, date: str) -> None:
    from tracker.publish import github as publish

    day = gather_day(settings, date)
    repo = publish.connect_from_env(settings.publish.repo)
    publish.publish_digest(
        repo, date=date, new_count=day.new_count, revised_count=day.revised_count, digest_markdown=day.digest_markdown,
        label=settings.publish.label, empty_day=settings.publish.empty_day, template_dir=_templates_dir(settings),
    )
    publish.report_health(repo, health_summary(day), label=settings.publish.health_label)


def _publish_health(settings: Any, summary: Mapping[str, Any]) -> None:
    from tracker.publish import github as publish

    publish.report_health(publish.connect_from_env(settings.publish.repo), summary, label=settings.publish.health_label)


def register(cli_group: click.Group) -> None:
    """Add `publish` and `schedule` to the `tracker` command group."""
    cli_group.add_command(publish_command)
    cli_group.add_command(schedule_command)
