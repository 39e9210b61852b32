"""`tracker explain ARXIV_ID`: why a paper scored as it did against each of the group's profiles.

Nothing heavy is imported at module level; the encoder loads inside the command (and only when
a paper's or a profile text's vector is not stored yet). Tests hand in an encoder through
click's context object (`obj={"encoder": ...}`), as for `tracker index`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from tracker.cli.options import arxiv_id_callback, config_option, given_encoder, json_option, load_settings
from tracker.errors import TrackerError
from tracker.text import counted


@click.command()
@click.argument("arxiv_id", callback=arxiv_id_callback)
@click.option(
    "-k",
    "k",
    type=click.IntRange(min=1, max=50),
    default=3,
    show_default=True,
    help="How many of the positives that pushed the score up to show, per profile.",
)
@click.option("--profile", "profile_name", default=None, help="Only this profile (by name).")
@json_option("Print the explanation as JSON: per profile its method, score and top positives.")
@config_option
@click.pass_context
def explain(
    ctx: click.Context, arxiv_id: str, k: int, profile_name: str | None, as_json: bool, config_path: Path
) -> None:
    """Show a paper's score against each profile and the examples that pushed it up most.

    The score comes from a model trained on each profile's papers and interests and on the
    papers the group ticked in digest issues (the rest of the ledger being the counter-examples),
    or, with too few examples, from the mean similarity to them; the output says which.

    Example: tracker explain arXiv:2401.01234v2 -k 5
    """
    from tracker.arxiv_ids import canonical_id
    from tracker.enrich.profile import missing_ids, profile_from_settings, relevance_inputs
    from tracker.enrich.relevance import explain as explain_scores
    from tracker.render.links import find_code_links
    from tracker.store.ledger import Ledger

    paper_id = canonical_id(arxiv_id)
    settings = load_settings(config_path)
    data_dir = settings.path(settings.output.data_dir)
    ledger = Ledger.load(data_dir, read_only=True)  # explain writes nothing
    paper = ledger.papers.get(paper_id)
    if paper is None:
        raise TrackerError(f"{paper_id} is not in the ledger ({data_dir}); only tracked papers can be explained")
    encoder = _encoder(ctx, settings)
    inputs = relevance_inputs(settings, encoder.encode)
    if inputs.empty:
        raise TrackerError(
            "nothing to explain against: no profile configured (`profile:` or `profiles:` in "
            f"{config_path}) and no ticked papers yet (`tracker feedback`)"
        )
    if profile_name is not None:
        inputs = _only(inputs, profile_name)
    papers, vectors = _embed(settings, list(ledger.papers.values()), encoder)
    data = explain_scores(paper_id, papers, vectors, inputs.profiles, inputs.profile_vectors, inputs.feedback, k=k)
    data["stored_relevance"] = paper.relevance
    data["code_links"] = find_code_links(f"{paper.abstract}\n{paper.comment or ''}")
    data["profile_not_in_ledger"] = missing_ids(profile_from_settings(settings), ledger.papers)
    _print(data, as_json)


def _only(inputs, name: str):

    wanted = [p for p in inputs.profiles if p.name.casefold() == name.strip().casefold()]
    if not wanted:
        known = ", ".join(repr(p.name) for p in inputs.profiles if p.name) or "none"
        raise click.BadParameter(f"no profile named {name!r}; named profiles: {known}", param_hint="'--profile'")
    return replace(inputs, profiles=tuple(wanted))


def _encoder(ctx: click.Context, settings) -> Any:
    from tracker.enrich.stage import LazyEncoder

    return LazyEncoder(settings, given_encoder(ctx))


def _embed(settings, papers: list, encoder) -> tuple[list, Any]:
    """Every ledger paper (sorted by id, as a run orders them) and its vector, from the run's vector
    store; papers it lacks are embedded, not saved (explain writes nothing)."""
    from tracker.enrich.embed import embed_papers
    from tracker.store.vectors import VectorStore

    papers = sorted(papers, key=lambda p: p.id)
    store = VectorStore.open(settings.project.state_dir, encoder.model_name, with_meta=False)
    vectors, _ = embed_papers(store, papers, encoder)
    return papers, vectors


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"{data['id']}  {_one_line(data['title'])}")
    if data["own"]:
        click.echo("one of the group's own or ticked papers: never a top pick")
    for entry in data["profiles"]:
        name = f"profile {entry['profile']!r}" if entry["profile"] else "the group's profile"
        if entry["method"] is None:
            click.echo(f"{name}: no positives in the ledger yet; not scored")
            continue
        how = "classifier trained on" if entry["method"] == "classifier" else "similarity fallback: mean similarity to"
        click.echo(
            f"{name}: score {entry['score']:.3f} ({how} {entry['positives_used']} positives, "
            f"{entry['feedback_used']} of them ticked)"
        )
        unit = "logit" if entry["method"] == "classifier" else "of the mean"
        for item in entry["top_positives"]:
            mark = " [ticked]" if item["ticked"] else ""
            click.echo(
                f"  +{item['contribution']:.3f} {unit}  (similarity {item['similarity']:.3f})  "
                f"{_one_line(item['label'])}{mark}"
            )
        if entry["method"] == "classifier":
            click.echo(
                f"  all positives {entry['positives_term']:+.3f}, all counter-examples "
                f"{entry['negatives_term']:+.3f}, intercept {entry['intercept']:+.3f} = logit {entry['logit']:+.3f}"
            )
    for link in data["code_links"]:
        click.echo(f"code: {link}")
    if data["profile_not_in_ledger"]:
        click.echo(
            f"note: {counted(len(data['profile_not_in_ledger']), 'profile paper')} not in the ledger yet, "
            f"left out: {', '.join(data['profile_not_in_ledger'])}"
        )


def _one_line(text: str) -> str:
    """Titles and labels come from papers and BibTeX: no control characters on the terminal."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def register(cli_group: click.Group) -> None:
    cli_group.add_command(explain)
