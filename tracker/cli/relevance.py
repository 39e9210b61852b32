"""`tracker explain ARXIV_ID`: why a paper is (not) relevant to the group's profile.

Nothing heavy is imported at module level; the encoder loads inside the command. Tests hand in
an encoder through click's context object (`obj={"encoder": ...}`), as for `tracker index`.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from tracker.errors import TrackerError


@click.command()
@click.argument("arxiv_id")
@click.option("-k", "k", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many profile items to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@click.option("--config", "config_path", default="keywords.yaml", show_default=True,
              type=click.Path(dir_okay=False, path_type=Path),
              help="The topics file; paths in it resolve relative to it.")
@click.pass_context
def explain(ctx: click.Context, arxiv_id: str, k: int, as_json: bool, config_path: Path) -> None:
    """Show the profile papers closest to a ledger paper, with their similarity.

    The relevance score is the similarity to the closest profile item.

    Example: tracker explain arXiv:2401.01234v2 -k 5
    """
    from tracker.arxiv_ids import canonical_id
    from tracker.cli.options import load_settings as load
    from tracker.store.ledger import Ledger
    from tracker.enrich.profile import missing_ids, profile_from_settings, profile_items
    from tracker.enrich.relevance import explain_paper

    paper_id = canonical_id(arxiv_id)
    settings = load(config_path)
    data_dir = settings.path(settings.output.data_dir)
    ledger = Ledger.load(data_dir)
    paper = ledger.get(paper_id)
    if paper is None:
        raise TrackerError(f"{paper_id} is not in the ledger ({data_dir}); only tracked papers can be explained")
    profile = profile_from_settings(settings)
    if profile.empty:
        raise TrackerError("no profile configured: add `profile: {papers, bibtex, interests}` to the config")
    encoder = _encoder(ctx, settings)
    from tracker.enrich.embed import paper_text

    items = profile_items(profile, ledger.papers, paper_text)
    if not items:
        raise TrackerError("none of the profile papers is in the ledger yet: `tracker run` fetches them")
    vectors = encoder.encode([paper_text(paper)] + [item.text for item in items])
    data = explain_paper(paper, vectors[0], vectors[1:], [item.label for item in items], k=k)
    data["profile_not_in_ledger"] = missing_ids(profile, ledger.papers)
    _print(data, as_json)


def _encoder(ctx: click.Context, settings) -> Any:
    given = (ctx.obj or {}).get("encoder")
    if given is not None:
        return given
    from tracker.enrich.embed import load_encoder

    return load_encoder(settings.embedding.model, device=settings.embedding.device,
                        cache_dir=settings.path(settings.output.state_dir))


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(f"{data['id']}  {data['title']}")
    click.echo(f"relevance {data['relevance']:.3f}; closest profile items:")
    for item in data["closest"]:
        click.echo(f"  {item['similarity']:.3f}  {item['label']}")
    for link in data["code_links"]:
        click.echo(f"code: {link}")
    if data["profile_not_in_ledger"]:
        click.echo(f"note: {len(data['profile_not_in_ledger'])} profile paper(s) not in the ledger yet, "
                   f"left out: {', '.join(data['profile_not_in_ledger'])}")


def register(cli_group: click.Group) -> None:
    cli_group.add_command(explain)
