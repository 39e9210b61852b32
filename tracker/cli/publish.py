"""`tracker publish`, `tracker feedback` and `tracker schedule`: thin commands over tracker.publish."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from tracker.cli.options import config_option, date_option, load_settings
from tracker.text import counted

if TYPE_CHECKING:
    from tracker.config import Settings

_OUTCOMES = ["success", "failure", "cancelled", "skipped"]


def _repo_name(settings: Settings, given: str | None) -> str | None:
    return given or settings.publish.repo or os.environ.get("GITHUB_REPOSITORY")


@click.command("publish")
@config_option
@date_option
@click.option("--repo", "repo_name", help="OWNER/NAME (default: publish.repo in the config, then $GITHUB_REPOSITORY).")
@click.option(
    "--dry-run", is_flag=True, help="Print the issue that would be opened (title and full body); no network, no token."
)
@click.option(
    "--commit",
    "commit_mode",
    is_flag=True,
    help="First commit the tracker's files GitHub lacks, through the contents API (no checkout needed).",
)
@click.option(
    "--run-outcome",
    type=click.Choice(_OUTCOMES),
    help="How the run step ended (GitHub Actions' steps.<id>.outcome), for the health issue.",
)
@click.option(
    "--problem", "problems", multiple=True, help="Another step's failure to report in the health issue (repeatable)."
)
def publish_command(
    config_path: Path,
    run_date: str | None,
    repo_name: str | None,
    dry_run: bool,
    commit_mode: bool,
    run_outcome: str | None,
    problems: tuple[str, ...],
) -> None:
    """Open or update the day's digest issue (and the week's review), close older ones, report run health.

    Without --date, publishes the day of the last `tracker run` (if it ran today or yesterday,
    UTC), so a publish just after midnight posts the day that was run. Reads
    digests/YYYY/MM/DATE.md, the ledger and .tracker/last_run.json; with --dry-run, what
    `tracker run --dry-run` left in .tracker/dry-run/DATE/ when present. Needs GITHUB_TOKEN
    (issues:write; contents:write with --commit); TRACKER_GITHUB_API_URL for GitHub Enterprise.
    Publishing the same day again updates its issue instead of opening another.

    Example: tracker publish --repo acme/papers --dry-run
    """
    from tracker.pipeline import today_utc
    from tracker.publish import publisher
    from tracker.publish.day import last_run_date

    settings = load_settings(config_path)
    date = run_date or last_run_date(settings, today_utc())
    with_health = run_date is None  # health is about today's run, not a re-published old day
    repo_name = _repo_name(settings, repo_name)
    if dry_run:
        click.echo(publisher.preview(settings, date, repo_name, health=with_health))
        return
    from tracker.notify.record import notify_problems
    from tracker.publish.client import connect_from_env

    problems = (*problems, *notify_problems(settings, date))  # channels `tracker notify` could not reach
    options = publisher.PublishOptions(
        commit=commit_mode,
        health=with_health,
        branch=os.environ.get("GITHUB_REF_NAME") or None,
        run_url=os.environ.get("TRACKER_RUN_URL"),
        outcome=run_outcome,
        problems=problems,
    )
    report = publisher.publish_day(settings, connect_from_env(repo_name), date, options)
    for line in report_lines(date, report):
        click.echo(line)


def report_lines(date: str, report: Any) -> list[str]:
    lines = []
    if report.committed is not None:
        done = report.committed
        lines.append(
            f"committed {counted(len(done.changed), 'file')} GitHub lacked or held differently"
            + (f", deleted {len(done.deleted)}" if done.deleted else "")
            + " via the contents API"
        )
    digest = report.digest
    if digest.action == "skipped":
        lines.append(f"{date}: nothing new; no issue (publish.empty_day: skip)")
    else:
        lines.append(f"digest issue #{digest.number} {digest.action} ({counted(digest.parts, 'part')}): {digest.url}")
    if digest.left_out or digest.shortened:
        lines.append(
            f"warning: too big for a GitHub issue: {counted(digest.left_out, 'entry', 'entries')} left out, "
            f"{digest.shortened} shortened; "
            "the issue says so and links the full digest"
        )
    if digest.closed:
        lines.append(
            f"closed {counted(len(digest.closed), 'earlier digest issue')}: "
            + ", ".join(f"#{n}" for n in digest.closed)
        )
    if report.weekly is not None:
        lines.append(f"weekly review issue #{report.weekly.number} {report.weekly.action}: {report.weekly.url}")
    if report.health is not None and report.health.action != "none":
        lines.append(f"health issue #{report.health.number} {report.health.action}")
    return lines


@click.command("feedback")
@config_option
@click.option("--repo", "repo_name", help="OWNER/NAME (default: publish.repo in the config, then $GITHUB_REPOSITORY).")
@click.option(
    "--days",
    type=click.IntRange(1, 366),
    default=14,
    show_default=True,
    help="Read the digest issues of this many past days.",
)
def feedback_command(config_path: Path, repo_name: str | None, days: int) -> None:
    """Record the papers members ticked in recent digest issues in data/feedback.jsonl.

    Every paper in a digest issue is a task-list item; tick (`[x]`) what you liked and the next
    `tracker run` ranks papers like it higher. Unticking removes it again. Needs GITHUB_TOKEN with
    read access to issues only (it writes nothing to GitHub).

    Example: tracker feedback --repo acme/papers --days 7
    """
    from tracker.pipeline import today_utc
    from tracker.publish.client import READ_ISSUES, connect_from_env
    from tracker.publish.feedback import sync_feedback

    settings = load_settings(config_path)
    repo = connect_from_env(_repo_name(settings, repo_name), needs=READ_ISSUES)
    report = sync_feedback(repo, settings, days=days, today=today_utc())
    skipped = f"; {counted(report.skipped, 'item')} skipped (see warnings)" if report.skipped else ""
    click.echo(
        f"read {counted(len(report.issues), 'digest issue')} of the last {days} days: "
        f"{len(report.added)} newly ticked, {len(report.removed)} unticked{skipped}; "
        f"{counted(report.liked, 'liked paper')} in {report.path}"
    )


@click.command("schedule")
@config_option
@click.option(
    "--cron", "cron_expr", help='Crontab expression, e.g. "17 2 * * 1-5" (0/7 = Sunday). Default: schedule.cron.'
)
@click.option("--timezone", "tz_name", help="IANA time zone, e.g. America/New_York. Default: schedule.timezone.")
@click.option("--print-next", type=click.IntRange(1, 1000), help="Print the next N run times and exit.")
@click.option(
    "--misfire-grace",
    type=click.IntRange(1),
    default=3600,
    show_default=True,
    help="Seconds a late run may still start.",
)
@click.option(
    "--publish/--no-publish",
    "and_publish",
    default=False,
    help="Publish the issue after each run (needs GITHUB_TOKEN).",
)
def schedule_command(
    config_path: Path,
    cron_expr: str | None,
    tz_name: str | None,
    print_next: int | None,
    misfire_grace: int,
    and_publish: bool,
) -> None:
    """Run `tracker run` on a crontab schedule in the foreground, until Ctrl-C / SIGTERM.

    Missed runs (machine asleep) collapse into one; a slow run is never overlapped.

    Example: tracker schedule --cron "17 2 * * 1-5" --timezone UTC --print-next 5
    """

    from tracker.cli.job import daily_job
    from tracker.publish import schedule

    if not (cron_expr and tz_name and print_next):  # else the config is not needed (nor read)
        settings = load_settings(config_path)
        cron_expr = cron_expr or settings.schedule.cron
        tz_name = tz_name or settings.schedule.timezone
    trigger = schedule.cron_trigger(cron_expr, tz_name)
    if print_next:
        for moment in schedule.next_fire_times(trigger, print_next, datetime.now().astimezone(), tz_name):
            click.echo(f"{moment.isoformat()}  {moment:%a %Z}")
        return
    click.echo(f"running `tracker run` at {cron_expr!r} ({tz_name}); Ctrl-C to stop", err=True)
    schedule.run_scheduler(daily_job(config_path, and_publish), trigger, misfire_grace_time=misfire_grace)


COMMANDS = (publish_command, feedback_command, schedule_command)


def register(cli_group: click.Group) -> None:
    """Add `publish`, `feedback` and `schedule` to the `tracker` command group."""
    for command in COMMANDS:
        cli_group.add_command(command)
