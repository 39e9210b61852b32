"""`tracker trends`: which themes are rising, week over week (tracker.enrich.trends).

Reads the ledger and the vector store only: papers the store lacks are embedded and not saved
(trends writes nothing). The model is loaded for the themes' labels (one batch of candidate
phrases, as the weekly review's labels) and for papers the store lacks. Tests hand in an
encoder through click's context object (`obj={"encoder": ...}`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tracker.cli.options import config_option, date_option, given_encoder, json_option, load_settings
from tracker.errors import TrackerError

_JSON_HELP = (
    'Print {"date", "topic", "weeks": [{start, end, tracked, papers}], "themes": [{"label", "terms", '
    '"papers" (arXiv ids of this week), "weekly_counts" (oldest week first), "growth", "rate_ratio", '
    '"rising"}]}, the most rising theme first.'
)


@click.command()
@config_option
@date_option  # the last day of the week looked at
@click.option(
    "--weeks",
    type=click.IntRange(min=2, max=52),
    default=4,
    show_default=True,
    help="How many weeks to compare, this one included.",
)
@click.option("--topic", default=None, help="Only papers of this topic (as named in the config).")
@json_option(_JSON_HELP)
@click.pass_context
def trends(
    ctx: click.Context, config_path: Path, run_date: str | None, weeks: int, topic: str | None, as_json: bool
) -> None:
    """Show which themes are rising: the last weeks' papers in themes, counted week by week.

    The weeks are the 7-day windows ending on --date. Papers count in the week the tracker
    first saw them (first versions from the last 30 days only: a new topic's backfill is not
    news). Themes are ranked by growth: how much faster they gained papers this week than
    before, conservatively (a theme going from 1 paper to 2 is not rising).

    Example: tracker trends --weeks 6 --topic "Reasoning" --date 2026-03-29
    """
    from tracker.enrich.background import label_context
    from tracker.enrich.cluster import text
    from tracker.enrich.trends import find_trends, select_window
    from tracker.pipeline import today_utc
    from tracker.store.ledger import Ledger

    settings = load_settings(config_path)
    topic = _known_topic(settings, topic)
    ledger = Ledger.load(settings.path(settings.output.data_dir), read_only=True)
    window = select_window(list(ledger.papers.values()), run_date or today_utc(), weeks, topic)
    vectors, encoder = _vectors(ctx, settings, list(window.papers))
    key = (lambda p: p.relevance or 0.0) if any(p.relevance is not None for p in window.papers) else None
    context = label_context(encoder, (text(p) for p in ledger.papers.values()))  # as the weekly review's labels
    report = find_trends(window, vectors, key=key, context=context)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        for line in report_lines(report, {p.id: p for p in window.papers}):
            click.echo(line)


def _known_topic(settings, topic: str | None) -> str | None:
    if topic is None:
        return None
    names = [t.name for t in settings.topics]
    for name in names:
        if name.casefold() == topic.strip().casefold():
            return name
    raise click.BadParameter(
        f"no topic named {topic!r}; the topics are: {', '.join(map(repr, names))}", param_hint="'--topic'"
    )


def _vectors(ctx: click.Context, settings, papers: list) -> tuple[Any, Any]:
    """The papers' vectors from the vector store, and the (lazy) encoder: it runs (and loads) for
    papers the store lacks, and for the labels' candidate phrases."""
    import numpy as np

    from tracker.enrich.embed import embed_papers, text_hash
    from tracker.enrich.stage import LazyEncoder
    from tracker.store.vectors import VectorStore

    given = given_encoder(ctx)
    if given is None and not settings.embedding.enabled:
        raise TrackerError(
            "tracker trends groups papers by their embeddings, and `embedding.enabled` is false in the config"
        )
    encoder = LazyEncoder(settings, given)
    if not papers:
        return np.zeros((0, 1), dtype=np.float32), encoder
    store = VectorStore.open(settings.project.state_dir, encoder.model_name, with_meta=False)
    if all(store.text_hash_of(p.id) == text_hash(p) for p in papers):
        return store.vectors([p.id for p in papers]), encoder
    vectors, _ = embed_papers(store, papers, encoder)
    return vectors, encoder


def report_lines(report, papers: dict) -> list[str]:
    """The text output: weeks, then each theme (rising ones with this week's papers)."""
    weeks = report.weeks
    scope = f" in topic {report.topic!r}" if report.topic else ""
    lines = [
        f"Themes of the {len(weeks)} weeks ending {report.end}{scope}: "
        f"{sum(w.papers for w in weeks)} new papers, {weeks[-1].papers} this week"
    ]
    lines.append(
        "weeks: " + " | ".join(f"{w.start}..{w.end[5:]}" + ("" if w.tracked else " (not tracked)") for w in weeks)
    )
    if not report.themes:
        lines.append("no themes: no papers in these weeks")
        return lines
    rising = [t for t in report.themes if t.rising]
    if not any(w.tracked for w in weeks[:-1]):
        lines.append("no earlier week was tracked, so nothing can be called rising yet")
    elif not rising:
        lines.append("nothing is rising: no theme grew faster this week than before")
    for title, themes in (("Rising", rising), ("Other themes", [t for t in report.themes if not t.rising])):
        if not themes:
            continue
        lines.append("")
        lines.append(f"{title}:")
        for theme in themes:
            growth = "growth n/a" if theme.growth is None else f"growth x{theme.growth:.2f}"
            counts = " ".join(str(c) for c in theme.weekly_counts)
            lines.append(f"  {_one_line(theme.label)}  [{growth}; weekly {counts}]")
            if theme.rising:
                for pid in theme.papers:
                    lines.append(f"    {pid}  {_one_line(papers[pid].title)}")
    return lines


def _one_line(text: str) -> str:
    """Paper text on a terminal: no control characters or line breaks."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def register(cli_group: click.Group) -> None:
    cli_group.add_command(trends)
