"""`tracker site`: build the lab's static page (tracker.site) from the ledger and the vector store.

Needs the page's libraries installed by `npm ci` in site/ (one line says so when they are missing);
`tracker run` and `tracker search` never need Node. Tests hand in an encoder through click's
context object (`obj={"encoder": ...}`); it embeds only papers the store lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracker.cli.options import config_option, given_encoder, json_option, load_settings
from tracker.errors import TrackerError

_REPO_SITE = Path(__file__).resolve().parents[2] / "site"  # a checkout's site/ folder


def site_folder(settings, given: Path | None) -> Path:
    """site/ (page + node_modules): given, else next to the config, else the checkout's own."""
    for folder in [given] if given else [settings.path("site"), _REPO_SITE]:
        if (folder / "app" / "index.html").is_file():
            return folder
    raise TrackerError(
        f"no site/app/index.html in {given or settings.path('site')}: "
        "give the repository's site/ folder with --site-dir"
    )


@click.command(name="site")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default="_site",
    show_default=True,
    help="Folder to build into (replaced whole; only an empty folder or an earlier site).",
)
@click.option(
    "--site-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="The repository's site/ folder (app/ and node_modules/); default: next to the config.",
)
@click.option(
    "--model-dir",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="An exported model folder (tokenizer.json, site/model.onnx, site/words.bin, site/linear.bin); default: the "
    "configured model, exported once (no torch needed).",
)
@json_option("Print the site's summary as JSON (count, topics, profiles, latest, built, model).")
@config_option
@click.pass_context
def site(ctx, out: Path, site_dir: Path | None, model_dir: Path | None, as_json: bool, config_path: Path) -> None:
    """Build the static site: today's picks, each day's digest, topics, rising themes, and a
    search over every paper that runs in the browser (deploy the folder to GitHub Pages).

    Example: (cd site && npm ci) && tracker site --out _site && python -m http.server -d _site
    """

    from tracker.site import build_site
    from tracker.site.assets import exported_model
    from tracker.store.ledger import Ledger

    settings = load_settings(config_path)
    folder = site_folder(settings, site_dir)
    papers = list(Ledger.load(settings.path(settings.output.data_dir), read_only=True).papers.values())
    meta = build_site(
        settings,
        papers,
        out,
        site_dir=folder,
        model_dir=model_dir or exported_model(settings.embedding.model),
        encoder=given_encoder(ctx),
    )
    summary = {key: meta[key] for key in ("count", "topics", "profiles", "latest", "built", "model")}
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        click.echo(
            f"site: {meta['count']} papers, {len(meta['topics'])} topics, latest day {meta['latest'] or '-'} in {out}"
        )


def register(cli_group: click.Group) -> None:
    cli_group.add_command(site)
