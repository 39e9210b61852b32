"""`tracker search`, `tracker similar`, `tracker index`: thin commands over tracker.store.vectors/search.

`search` must start fast: nothing here imports torch, sentence-transformers, sklearn, jinja2 or
the arxiv client when the store is in place. The query is encoded by the OpenVINO query encoder
while another thread checks and opens the store, so the two slow steps of a cold start overlap.
A store that is missing, damaged or of another model is rebuilt from the ledger first (logged;
slow once), like every cache under `.tracker/`.

Tests hand in encoders through click's context object (`obj={"encoder": ..., "query_encoder": ...}`).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click

from tracker.cli.options import (
    arxiv_id_callback,
    config_option,
    date_callback,
    given_encoder,
    json_option,
    load_settings,
)
from tracker.errors import UsageError

log = logging.getLogger(__name__)


def _document_encoder(ctx: click.Context, settings) -> Any:
    given = given_encoder(ctx, "encoder")
    if given is not None:
        return given
    from tracker.enrich.stage import load_document_encoder

    return load_document_encoder(settings)


def _query_encoder(ctx: click.Context, settings) -> Any:
    given = given_encoder(ctx, "query_encoder")
    if given is not None:
        return given
    from tracker.enrich.encoders import load_query_encoder

    return load_query_encoder(settings.embedding.model)


def _ledger_papers(settings) -> list:
    from tracker.store.ledger import Ledger

    return sorted(
        Ledger.load(settings.path(settings.output.data_dir), read_only=True).papers.values(), key=lambda p: p.id
    )


def update_store(ctx: click.Context, settings, store, *, papers: list | None = None) -> int:
    """Embed what the store lacks of the ledger (as `tracker run` does) and save it; returns how many."""
    papers = _ledger_papers(settings) if papers is None else papers
    if not papers:
        return 0
    from tracker.enrich.embed import embed_papers

    _, embedded = embed_papers(store, papers, _document_encoder(ctx, settings))
    store.save()
    return embedded


def _usable_store(ctx: click.Context, settings, store):
    """`store`, first rebuilt from the ledger when it is empty (never built, damaged, other model)."""
    if len(store):
        return store
    papers = _ledger_papers(settings)
    if papers:
        log.warning("building the search index from the ledger: embedding %d papers (once)", len(papers))
        update_store(ctx, settings, store, papers=papers)
    return store


def _print_hits(hits, as_json: bool, empty_note: str) -> None:
    if as_json:
        click.echo(json.dumps([hit.to_dict() for hit in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        click.echo(empty_note)
    for rank, hit in enumerate(hits, start=1):
        topics = f"  [{', '.join(hit.topics)}]" if hit.topics else ""
        click.echo(f"{rank:>2}. {hit.score:.3f}  {hit.id}  {hit.date}  {hit.title}{topics}")
        click.echo(f"    {_authors(hit.authors)}")
        click.echo(f"    {hit.link}")


def _authors(names: tuple[str, ...], shown: int = 4) -> str:
    if not names:
        return "(no authors listed)"
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


k_option = click.option("-k", "k", type=int, default=10, show_default=True, help="How many papers to show.")
hits_json = json_option("Print the hits as a JSON list (score, id, date, title, authors, topics, link).")


@click.command()
@click.argument("query")
@k_option
@click.option(
    "--since", callback=date_callback, help="Only papers whose latest version is from this day on (YYYY-MM-DD)."
)
@click.option(
    "--until", callback=date_callback, help="Only papers whose latest version is up to this day (YYYY-MM-DD)."
)
@click.option("--topic", help="Only papers of this topic (name as in keywords.yaml, any case).")
@click.option("--author", help="Only papers with an author whose name contains this (any case).")
@hits_json
@config_option
@click.pass_context
def search(ctx, query: str, k: int, since, until, topic, author, as_json: bool, config_path: Path) -> None:
    """Find ledger papers by meaning, best match first.

    Filters apply before the top-k cut: `--topic X -k 10` shows 10 papers of X when X has 10.

    Example: tracker search "retrieval augmented generation" -k 5 --since 2026-01-01
    """

    from tracker.store.search import Filters, check_k
    from tracker.store.search import search as run_search
    from tracker.store.vectors import VectorStore

    if not query.strip():
        raise UsageError('the search query is empty: give some words, e.g. tracker search "graph neural networks"')
    check_k(k)
    filters = Filters(since=since, until=until, topic=topic, author=author).check()
    settings = load_settings(config_path)
    if topic is not None:
        from tracker.config import require_topic

        require_topic(settings, topic)  # an unknown topic is a usage error naming the known ones, not 0 hits
    with ThreadPoolExecutor(max_workers=1) as pool:  # check + open the store while the encoder loads
        opening = pool.submit(VectorStore.open, settings.project.state_dir, settings.embedding.model, with_meta=False)
        vector = _query_encoder(ctx, settings).encode([query.strip()])[0]
        store = _usable_store(ctx, settings, opening.result())
    hits = run_search(store, vector, k, filters)
    listed = int(store.listed().sum())
    note = "no papers match the filters" if filters.active else "the index is empty"
    _print_hits(hits, as_json, f"{note} ({listed} papers indexed)")


@click.command()
@click.argument("arxiv_id", callback=arxiv_id_callback)
@k_option
@hits_json
@config_option
@click.pass_context
def similar(ctx, arxiv_id: str, k: int, as_json: bool, config_path: Path) -> None:
    """Papers closest to one already in the index (never the paper itself).

    Takes 2401.01234, 2401.01234v2, arXiv:2401.01234 or old-style ids like hep-th/9901001v2.

    Example: tracker similar arXiv:2401.01234v2 -k 5
    """
    from tracker.arxiv_ids import canonical_id
    from tracker.store.search import check_k
    from tracker.store.search import similar as run_similar
    from tracker.store.vectors import VectorStore

    check_k(k)
    canonical_id(arxiv_id)  # reject a malformed id before touching the store
    settings = load_settings(config_path)
    store = VectorStore.open(settings.project.state_dir, settings.embedding.model, with_meta=False)
    hits = run_similar(_usable_store(ctx, settings, store), arxiv_id, k)
    _print_hits(hits, as_json, "no other papers in the index")


@click.command(name="index")
@click.option("--rebuild", is_flag=True, help="Re-embed every paper instead of only new or changed ones.")
@json_option("Print a summary as JSON: papers, embedded, searchable.")
@config_option
@click.pass_context
def index_command(ctx, rebuild: bool, as_json: bool, config_path: Path) -> None:
    """Bring the search index (the vector store in .tracker/vectors) up to date with the ledger.

    `tracker run` keeps it up to date; this is for a fresh clone or after `--rebuild`.

    Example: tracker index --rebuild
    """
    from tracker.store.vectors import VectorStore

    settings = load_settings(config_path)
    store = VectorStore.open(settings.project.state_dir, settings.embedding.model)
    if rebuild:
        store.clear()
    embedded = update_store(ctx, settings, store)
    summary = {"papers": len(store), "embedded": embedded, "searchable": int(store.listed().sum())}
    if as_json:
        click.echo(json.dumps(summary, indent=2, sort_keys=True))
        return
    click.echo(
        f"search index: {summary['searchable']} searchable papers ({summary['papers']} stored); embedded {embedded}"
    )


def register(cli_group: click.Group) -> None:
    for command in (search, similar, index_command):
        cli_group.add_command(command)
