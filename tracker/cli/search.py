"""`tracker search`, `tracker similar`, `tracker index`: thin commands over tracker.store.index/search.

`search` must start fast: nothing here imports torch, sentence-transformers, sklearn, jinja2 or
the arxiv client. The query is encoded by the ONNX query encoder while another thread checks and
reads the index, so the two slow steps of a cold start overlap.

Tests hand in encoders through click's context object (`obj={"encoder": ..., "query_encoder": ...}`).
"""
from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import click

from tracker.errors import TrackerError


def _settings(config_path: Path):
    from tracker.cli.options import load_settings as load

    return load(config_path)


def _state_dir(settings) -> Path:
    return settings.path(settings.output.state_dir)


def _date(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise TrackerError(f"{name} {value!r} is not a date: use YYYY-MM-DD") from None


def _filters(since: str | None, until: str | None, topic: str | None, author: str | None):
    from tracker.store.search import Filters

    since, until = _date("--since", since), _date("--until", until)
    if since and until and since > until:
        raise TrackerError(f"--since {since} is after --until {until}: nothing can match")
    for name, value in (("--topic", topic), ("--author", author)):
        if value is not None and not value.strip():
            raise TrackerError(f"{name} is empty")
    return Filters(since=since, until=until, topic=topic, author=author)


def _query_encoder(ctx: click.Context, settings) -> Any:
    given = (ctx.obj or {}).get("query_encoder")
    if given is not None:
        return given
    from tracker.enrich.embed import load_query_encoder

    return load_query_encoder(settings.embedding.model, cache_dir=_state_dir(settings))


def _encoder(settings) -> Any:
    from tracker.enrich.embed import load_encoder

    return load_encoder(settings.embedding.model, settings.embedding.device, cache_dir=_state_dir(settings))


def _embed(papers, encoder, state_dir: Path):
    """Vectors of the papers (from the embedding cache; only new texts reach the model) and text hashes."""
    from tracker.enrich.embed import text_hash
    from tracker.enrich.stage import embed_all  # the same cache `tracker run` fills

    vectors, _ = embed_all(papers, encoder, state_dir)
    return vectors, [text_hash(paper) for paper in papers]


def _print_hits(hits, as_json: bool, empty_note: str) -> None:
    if as_json:
        click.echo(json.dumps([hit.to_dict() for hit in hits], indent=2, ensure_ascii=False))
        return
    if not hits:
        click.echo(empty_note)
    for rank, hit in enumerate(hits, start=1):
        topics = f"  [{', '.join(hit.topics)}]" if hit.topics else ""
        click.echo(f"{rank:>2}. {hit.score:.3f}  {hit.id}  {hit.date}  {hit.title}{topics}")
        click.echo(f"    {hit.link}")


config_option = click.option(
    "--config", "config_path", default="keywords.yaml", show_default=True,
    type=click.Path(dir_okay=False, path_type=Path), help="The topics file; paths in it resolve relative to it.",
)
k_option = click.option("-k", "k", type=int, default=10, show_default=True, help="How many papers to show.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print the hits as a JSON list.")


@click.command()
@click.argument("query")
@k_option
@click.option("--since", help="Only papers whose latest version is from this day on (YYYY-MM-DD).")
@click.option("--until", help="Only papers whose latest version is up to this day (YYYY-MM-DD).")
@click.option("--topic", help="Only papers of this topic (name as in keywords.yaml, any case).")
@click.option("--author", help="Only papers with an author whose name contains this (any case).")
@json_option
@config_option
@click.pass_context
def search(ctx, query: str, k: int, since, until, topic, author, as_json: bool, config_path: Path) -> None:
    """Find ledger papers by meaning, best match first.

    Filters apply before the top-k cut: `--topic X -k 10` shows 10 papers of X when X has 10.

    Example: tracker search "retrieval augmented generation" -k 5 --since 2026-01-01
    """
    from concurrent.futures import ThreadPoolExecutor

    from tracker.store import index as vindex
    from tracker.store.search import check_k, search as run_search

    if not query.strip():
        raise TrackerError("the search query is empty: give some words, e.g. tracker search \"graph neural networks\"")
    check_k(k)
    filters = _filters(since, until, topic, author)
    settings = _settings(config_path)
    state_dir = _state_dir(settings)
    vindex.check_model(vindex.read_manifest(state_dir), settings.embedding.model)
    with ThreadPoolExecutor(max_workers=1) as pool:  # read + verify the index while the encoder loads
        loading = pool.submit(vindex.load, state_dir)
        encoder = _query_encoder(ctx, settings)
        vector = encoder.encode([query.strip()])[0]
        index = loading.result()
    try:
        vindex.check_model(index.manifest, settings.embedding.model, len(vector))
        hits = run_search(index, vector, k, filters)
    finally:
        index.close()
    note = "no papers match the filters" if filters.active else "the index is empty"
    _print_hits(hits, as_json, f"{note} ({index.size} papers indexed)")


@click.command()
@click.argument("arxiv_id")
@k_option
@json_option
@config_option
@click.pass_context
def similar(ctx, arxiv_id: str, k: int, as_json: bool, config_path: Path) -> None:
    """Papers closest to one already in the index (never the paper itself).

    Takes 2401.01234, 2401.01234v2, arXiv:2401.01234 or old-style ids like hep-th/9901001v2.

    Example: tracker similar arXiv:2401.01234v2 -k 5
    """
    from tracker.store import index as vindex
    from tracker.arxiv_ids import canonical_id
    from tracker.store.search import check_k, similar as run_similar

    check_k(k)
    canonical_id(arxiv_id)  # reject a malformed id before touching the index
    settings = _settings(config_path)
    index = vindex.load(_state_dir(settings), settings.embedding.model)
    try:
        hits = run_similar(index, arxiv_id, k)
    finally:
        index.close()
    _print_hits(hits, as_json, "no other papers in the index")


@click.command(name="index")
@click.option("--rebuild", is_flag=True, help="Start from scratch (after a model change or a corrupt index).")
@json_option
@config_option
@click.pass_context
def index_command(ctx, rebuild: bool, as_json: bool, config_path: Path) -> None:
    """Bring the search index up to date with the ledger (embeddings come from the cache).

    Example: tracker index --rebuild
    """
    from tracker.store import index as vindex
    from tracker.store.ledger import Ledger

    settings = _settings(config_path)
    state_dir = _state_dir(settings)
    ledger = Ledger.load(settings.path(settings.output.data_dir))
    papers = sorted((p for p in ledger.papers.values() if p.topics), key=lambda p: p.id)  # as `tracker run` does
    encoder = (ctx.obj or {}).get("encoder") or _encoder(settings)
    vectors, hashes = _embed(papers, encoder, state_dir)
    rows = [vindex.row_from_paper(paper, text_hash) for paper, text_hash in zip(papers, hashes)]
    if rebuild:
        summary = vindex.build(state_dir, settings.embedding.model, vectors, rows)
    else:
        summary = vindex.update(state_dir, settings.embedding.model, vectors, rows)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=2, sort_keys=True))
        return
    click.echo(
        f"search index: {summary.size} papers ({summary.kind}); {summary.added} added, {summary.replaced} "
        f"replaced, {summary.refreshed} metadata refreshed" + (", rebuilt" if summary.rebuilt else "")
    )


def register(cli_group: click.Group) -> None:
    for command in (search, similar, index_command):
        cli_group.add_command(command)
