"""The `tracker` command: thin commands over the library.

Heavy libraries (torch, sentence-transformers, faiss) are imported inside the commands
that need them, so `tracker check` or `tracker search` start quickly. Options shared by
every command live in tracker.cli.options; the other command modules are registered below.

Exit codes: 0 ok, 3 some topic failed (the rest were written), 1 nothing could be done,
2 bad config or usage, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from tracker import progress
from tracker.cli import notify as notify_commands
from tracker.cli import publish as publish_commands
from tracker.cli import relevance as relevance_commands
from tracker.cli import search as search_commands
from tracker.cli import site as site_commands
from tracker.cli import trends as trends_commands
from tracker.cli.options import (
    EXIT_INTERRUPTED,
    EXIT_PARTIAL,
    config_given_before,
    config_option,
    date_option,
    device_option,
    env_url_secrets,
    given_encoder,
    group_config_option,
    json_option,
    load_settings,
    verbose_option,
)
from tracker.errors import TrackerError, UsageError
from tracker.redact import redact
from tracker.text import counted


class TrackerGroup(click.Group):
    """Gives every command `-v` (and `--config` before the command name), and turns errors into lines on stderr
    with their exit code."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.params += [verbose_option(), group_config_option()]

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(param.name == "verbose" for param in cmd.params):
            cmd.params.append(verbose_option())  # so `tracker check -v` works as `tracker -v check`
        super().add_command(cmd, name)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        """click's main, except that a usage error is one `error:` line like every other error."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # bare `tracker`: the help, as click shows it
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "tracker"
            click.echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context):
        progress.enable()  # for this command only: bars on a terminal, plain lines in a log; stderr only
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            hint = f" (see `{ctx.command_path} {ctx.invoked_subcommand} --help`)" if isinstance(exc, UsageError) else ""
            for problem in getattr(exc, "problems", None) or [str(exc)]:
                click.echo(f"error: {redact(problem, env_url_secrets())}{hint}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            # Every write goes through the journal, so stopping here leaves old or new files.
            click.echo("interrupted: stopped before finishing (stored files are intact)", err=True)
            ctx.exit(EXIT_INTERRUPTED)
        finally:
            progress.enable(False)


@click.group(cls=TrackerGroup)
@click.version_option(package_name="paper-tracker")
def cli() -> None:
    """Track arXiv topics: ledger, README tables, daily digest, semantic search.

    Exit codes: 0 ok, 3 some topic failed (the others were written), 1 nothing could be done,
    2 bad config or usage, 130 interrupted.

    Example: tracker run --config keywords.yaml
    """


def _echo(text: str) -> None:
    """stdout, with credentials masked (a `user:pass@` endpoint must not reach CI logs)."""
    click.echo(redact(text, env_url_secrets()))


def _print_summary(data: dict, as_json: bool) -> None:
    if as_json:
        _echo(json.dumps(data, indent=2, sort_keys=True))
        return
    verb = "would write" if data.get("dry_run") else "wrote"
    for topic in data["topics"]:
        status = (
            f"error: {topic['error']}"
            if topic["error"]
            else f"{topic['fetched']} fetched, {topic['new']} new, {topic['revised']} revised"
        )
        _echo(f"{topic['name']}: {status}")
    totals = data["totals"]
    files = counted(len(data["outputs"]), "file")
    _echo(f"{data['date']}: {totals['new']} new, {totals['revised']} revised; {verb} {files}")
    if "embedded" in data:
        click.echo(
            f"embedded {counted(data['embedded'], 'text')}; "
            f"{counted(data.get('near_duplicates', 0), 'near-duplicate')}; {counted(data.get('clusters', 0), 'theme')}"
        )


def _run(
    ctx: click.Context,
    config_path: Path,
    run_date: str | None,
    *,
    dry_run: bool,
    as_json: bool,
    render: bool,
    embed: bool,
    device: str | None = None,
) -> None:
    from tracker import pipeline

    settings = load_settings(config_path, device)
    try:
        summary = pipeline.run_daily(
            settings,
            sources=pipeline.make_sources(settings),
            today=run_date or pipeline.today_utc(),
            dry_run=dry_run,
            render=render,
            embed=embed,
            encoder=given_encoder(ctx),
        )
    except pipeline.NothingDone as exc:
        failed = getattr(exc, "summary", None)
        if as_json and failed is not None:  # scripts read the per-topic errors from the summary
            _print_summary(failed.to_dict(), as_json=True)
        raise
    _print_summary(summary.to_dict(), as_json)
    for topic in summary.failed:
        click.echo(f"error: topic {topic.name!r} failed: {redact(topic.error or '', env_url_secrets())}", err=True)
    if summary.failed:
        ctx.exit(EXIT_PARTIAL)


_RUN_JSON_HELP = (
    "Print the run summary as JSON: date, per-topic fetched/new/revised/excluded/error, totals, "
    "files written (printed even when every topic failed)."
)


@cli.command()
@config_option
@date_option
@click.option("--dry-run", is_flag=True, help="Fetch and compute, but write nothing.")
@json_option(_RUN_JSON_HELP)
@click.option("--no-embed", is_flag=True, help="Skip embeddings, duplicates and themes (fast, no model).")
@device_option
@click.pass_context
def run(
    ctx, config_path: Path, run_date: str | None, dry_run: bool, as_json: bool, no_embed: bool, device: str | None
) -> None:
    """Fetch every topic, update the ledger, render README and the day's digest.

    Exit 0 when every topic succeeded, 3 when some failed (the rest were written),
    1 when nothing could be done (nothing stored was changed), 2 for a bad config.

    Example: tracker run --date 2026-11-20 --json
    """
    _run(ctx, config_path, run_date, dry_run=dry_run, as_json=as_json, render=True, embed=not no_embed, device=device)


@cli.command()
@config_option
@date_option
@click.option("--dry-run", is_flag=True, help="Fetch, but write nothing.")
@json_option(_RUN_JSON_HELP)
@click.pass_context
def fetch(ctx, config_path: Path, run_date: str | None, dry_run: bool, as_json: bool) -> None:
    """Fetch every topic into the ledger only (no rendering).

    Example: tracker fetch --config keywords.yaml
    """
    _run(ctx, config_path, run_date, dry_run=dry_run, as_json=as_json, render=False, embed=False)


@cli.command()
@config_option
@date_option
@click.option("--no-embed", is_flag=True, help="Render without themes/duplicates (no model).")
@device_option
@click.pass_context
def render(ctx, config_path: Path, run_date: str | None, no_embed: bool, device: str | None) -> None:
    """Re-render README, archives and a day's digest from the ledger (no network).

    Without --date, the latest day that has papers; a date after today or before the ledger's
    first run is refused.

    Example: tracker render --date 2026-11-20
    """
    from tracker import pipeline

    settings = load_settings(config_path, device)
    day, written = pipeline.render_only(settings, today=run_date, embed=not no_embed, encoder=given_encoder(ctx))
    latest = "" if run_date else " (the latest day with papers)"
    click.echo(f"rendered {day}{latest}: wrote {counted(len(written), 'file')}")
    for path in written:
        click.echo(f"  {path}")


@cli.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the config and print each topic's exact arXiv query, with warnings.

    Every problem is listed, one line each with its file and line; exit 2 if there is any.

    Example: tracker check --config keywords.yaml
    """
    from tracker.arxiv_query import build_queries, query_warnings

    settings = load_settings(config_path)
    for topic in settings.topics:
        click.echo(f"{topic.name} [{topic.source}]")
        if topic.source == "rss":
            types = ", ".join(topic.announce_types or settings.rss.announce_types)
            _echo(f"  feed: {settings.rss_url.rstrip('/')}/{'+'.join(sorted(topic.categories))} ({types})")
            click.echo(f"  keywords (title or abstract): {', '.join(topic.keywords)}")
        else:
            queries = build_queries(topic)  # split when one would not fit in a request URL
            for number, query in enumerate(queries, start=1):
                click.echo(f"  query{f' {number} of {len(queries)}' if len(queries) > 1 else ''}: {query}")
                for warning in query_warnings(query):
                    click.echo(f"  warning: {warning}")
    _echo(f"OK: {counted(len(settings.topics), 'topic')}; API {settings.api_url}")


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default="tracker-demo")
@click.option("--no-embed", is_flag=True, help="Skip embeddings, duplicates, themes and top picks (fast, no model).")
@date_option  # the demo day; a rerun keeps the folder's own
@click.pass_context
def demo(ctx: click.Context, folder: Path, no_embed: bool, run_date: str | None) -> None:
    """Run the whole pipeline offline on recorded papers, and show what to try next.

    A loopback arXiv serves papers dated into the five weeks before the demo day; the tracker
    runs once a week over them, writing a config, ledger, README, digests, weekly reviews and a
    profile's top picks into FOLDER (default ./tracker-demo). --date sets the demo day (a rerun
    keeps the folder's own). FOLDER must be new, empty, or an earlier demo's folder: the demo
    never touches files it did not create, or that you changed.

    Example: tracker demo /tmp/tracker-demo
    """
    from tracker.demo import run_demo

    if config_given_before(ctx) is not None:
        raise click.UsageError("tracker demo writes its own keywords.yaml into FOLDER; it takes no --config")
    for line in run_demo(folder, embed=not no_embed, day=run_date, encoder=given_encoder(ctx)):
        click.echo(line)


# Each command module lists its own commands; registering here (not there) keeps imports one-way.
for _module in (search_commands, relevance_commands, publish_commands, trends_commands, notify_commands, site_commands):
    _module.register(cli)  # search/similar/index; explain; publish/feedback/schedule; trends; notify; site


def main() -> None:
    cli(prog_name="tracker")


if __name__ == "__main__":
    main()
