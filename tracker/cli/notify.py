"""`tracker notify`: the day's headline and top picks to Slack, Discord, Teams and e-mail (config `notify:`)."""

from __future__ import annotations

from pathlib import Path

import click

from tracker.cli.options import config_option, date_option, load_settings


@click.command("notify")
@config_option
@date_option
@click.option("--dry-run", is_flag=True, help="Print what each channel would receive; send nothing.")
@click.option("--force", is_flag=True, help="Send again to channels that already got this day.")
@click.option(
    "--wait-budget",
    type=click.FloatRange(0, 3600),
    default=120.0,
    show_default=True,
    help="Seconds all retries of all channels may wait in total.",
)
def notify_command(config_path: Path, run_date: str | None, dry_run: bool, force: bool, wait_budget: float) -> None:
    """Send the day's headline, top picks (with TL;DRs) and themes to every channel in `notify:`.

    Each channel gets a day once: reruns and retried workflows send nothing again (the record is
    data/notify.json, committed with the ledger); --force sends again. A failing channel is
    retried within the wait budget, then reported (and named in the health issue by the next
    `tracker publish`); it never stops the other channels, and the exit code stays 0.
    Secrets come from the environment variables the config names, never from the file.

    Example: tracker notify --dry-run
    """
    from tracker.notify.send import notify_day
    from tracker.pipeline import today_utc
    from tracker.publish.day import last_run_date

    settings = load_settings(config_path)
    date = run_date or last_run_date(settings, today_utc())  # as `publish` decides it
    if not settings.notify:
        click.echo(f"{config_path}: no `notify:` channels configured; nothing to send")
        return
    report = notify_day(
        settings, date, config_name=Path(config_path).name, dry_run=dry_run, force=force, budget_seconds=wait_budget
    )
    for text in report.previews:
        click.echo(text)
    for name in report.sent:
        click.echo(f"{date}: sent to {name}")
    for name in report.skipped:
        click.echo(f"{date}: {name} already got this day (--force sends again)")
    for line in report.failed:
        click.echo(f"{date}: not sent: {line}", err=True)


def register(cli_group: click.Group) -> None:
    cli_group.add_command(notify_command)
