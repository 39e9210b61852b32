"""The `tracker` command: thin commands over the library.

Heavy libraries (torch, sentence-transformers, faiss) are imported inside the commands
that need them, so `tracker check` or `tracker search` start quickly.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from tracker.errors import TrackerError

log = logging.getLogger("tracker")
EXIT_PARTIAL = 3


class TrackerGroup(click.Group):
    """Turns a TrackerError into one line on stderr and its exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TrackerError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


def _validate_date(ctx, param, value: str | None) -> str | None:
    if value is None:
        return None
    import datetime

    try:
        return datetime.date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


config_option = click.option(
    "--config", "config_path", default="keywords.yaml", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path), help="The topics file; paths in it resolve relative to it.",
)
date_option = click.option("--date", "run_date", callback=_validate_date, help="Run date YYYY-MM-DD (default: today, UTC).")


def load(config_path: Path):
    from tracker.config import load_settings

    return load_settings(config_path)


@click.group(cls=TrackerGroup)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="paper-tracker")
def cli(verbose: int) -> None:
    """Track arXiv topics: ledger, README tables, daily digest, semantic search.

    Example: tracker run --config keywords.yaml
    """
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _print_summary(summary, as_json: bool) -> None:
    data = summary.to_dict()
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    verb = "would write" if summary.dry_run else "wrote"
    for topic in data["topics"]:
        status = f"error: {topic['error']}" if topic["error"] else f"{topic['fetched']} fetched, {topic['new']} new, {topic['revised']} revised"
        click.echo(f"{topic['name']}: {status}")
    totals = data["totals"]
    click.echo(f"{data['date']}: {totals['new']} new, {totals['revised']} revised; {verb} {len(data['outputs'])} file(s)")
    if "embedded" in data:
        click.echo(f"embedded {data['embedded']} text(s); {data.get('near_duplicates', 0)} near-duplicate(s); "
                   f"{data.get('clusters', 0)} theme(s)")


def _exit_for(summary) -> None:
    for topic in summary.failed:
        click.echo(f"error: topic {topic.name!r} failed: {topic.error}", err=True)
    if summary.failed:
        sys.exit(EXIT_PARTIAL)


def with_device(settings, device: str | None):
    """`--device` overrides `embedding.device` for this invocation."""
    if device is None:
        return settings
    return settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"device": device})})


device_option = click.option(
    "--device", type=click.Choice(["cpu", "cuda", "mps"]), default=None,
    help="Where to embed (default: embedding.device, else CUDA, then MPS, then CPU).",
)


def _run(config_path: Path, run_date: str | None, dry_run: bool, as_json: bool, render: bool, embed: bool,
         device: str | None = None) -> None:
    from tracker import pipeline

    settings = with_device(load(config_path), device)
    enrich = None
    if embed and settings.embedding.enabled:
        from tracker.enrich.stage import make_enricher

        enrich = make_enricher(settings)
    summary = pipeline.run_daily(
        settings, sources=pipeline.make_sources(settings), today=run_date or pipeline.today_utc(),
        dry_run=dry_run, render=render, enrich=enrich,
    )
    _print_summary(summary, as_json)
    _exit_for(summary)


@cli.command()
@config_option
@date_option
@click.option("--dry-run", is_flag=True, help="Fetch and compute, but write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option("--no-embed", is_flag=True, help="Skip embeddings, duplicates and themes (fast, no model).")
@device_option
def run(config_path: Path, run_date: str | None, dry_run: bool, as_json: bool, no_embed: bool, device: str | None) -> None:
    """Fetch every topic, update the ledger, render README and the day's digest.

    Exit 0 when every topic succeeded, 3 when some failed (the rest were written),
    1 when nothing could be done (nothing stored was changed).

    Example: tracker run --date 2026-11-20 --json
    """
    _run(config_path, run_date, dry_run, as_json, render=True, embed=not no_embed, device=device)


@cli.command()
@config_option
@date_option
@click.option("--dry-run", is_flag=True, help="Fetch, but write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
def fetch(config_path: Path, run_date: str | None, dry_run: bool, as_json: bool) -> None:
    """Fetch every topic into the ledger only (no rendering).

    Example: tracker fetch --config keywords.yaml
    """
    _run(config_path, run_date, dry_run, as_json, render=False, embed=False)


@cli.command()
@config_option
@date_option
@click.option("--no-embed", is_flag=True, help="Render without themes/duplicates (no model).")
@device_option
def render(config_path: Path, run_date: str | None, no_embed: bool, device: str | None) -> None:
    """Re-render README, archives and the day's digest from the ledger (no network).

    Example: tracker render --date 2026-11-20
    """
    from tracker import pipeline

    settings = with_device(load(config_path), device)
    enrich = None
    if not no_embed and settings.embedding.enabled:
        from tracker.enrich.stage import make_enricher

        enrich = make_enricher(settings)
    written = pipeline.render_only(settings, today=run_date or pipeline.today_utc(), enrich=enrich)
    click.echo(f"wrote {len(written)} file(s)")
    for path in written:
        click.echo(f"  {path}")


@cli.command()
@config_option
def check(config_path: Path) -> None:
    """Validate the config and print each topic's exact arXiv query, with warnings.

    Example: tracker check --config keywords.yaml
    """
    from tracker.config import build_query, query_warnings

    settings = load(config_path)
    for topic in settings.topics:
        click.echo(f"{topic.name} [{topic.source}]")
        if topic.source == "rss":
            types = ", ".join(topic.announce_types or settings.rss.announce_types)
            click.echo(f"  feed: {settings.rss_url.rstrip('/')}/{'+'.join(sorted(topic.categories))} ({types})")
            click.echo(f"  keywords (title or abstract): {', '.join(topic.keywords)}")
        else:
            query = build_query(topic)
            click.echo(f"  query: {query}")
            for warning in query_warnings(query):
                click.echo(f"  warning: {warning}")
    click.echo(f"OK: {len(settings.topics)} topic(s); API {settings.api_url}")


@cli.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default="tracker-demo")
@click.option("--no-embed", is_flag=True, help="Skip embeddings, duplicates and themes.")
def demo(folder: Path, no_embed: bool) -> None:
    """Run the whole pipeline offline: recorded arXiv responses replayed by a loopback server.

    Writes a config, ledger, README and digest into FOLDER (default ./tracker-demo).

    Example: tracker demo /tmp/tracker-demo
    """
    from tracker.demo import run_demo

    for line in run_demo(folder, embed=not no_embed):
        click.echo(line)


from tracker.cli.relevance import register as _register_explain  # noqa: E402 - needs `cli` defined

_register_explain(cli)  # `tracker explain ARXIV_ID`

from tracker.cli.search import register as _register_search  # noqa: E402 - needs `cli` defined

_register_search(cli)  # `tracker search`, `tracker similar`, `tracker index`

from tracker.cli.publish import register as _register_publish  # noqa: E402 - needs `cli` defined

_register_publish(cli)  # `tracker publish`, `tracker schedule`


def main() -> None:
    cli(prog_name="tracker")


