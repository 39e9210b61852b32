"""What every `tracker` command shares, defined once: options, date parsing, settings, encoder.

Command modules (cli/search.py, cli/relevance.py, cli/publish.py) import from here, never from
tracker.cli.main, so there is no import circle: main.py imports them and registers their commands.

Usage errors (a bad date, an unknown device) raise click.BadParameter / click.UsageError and exit 2,
like a bad config (ConfigError). `-v` is added to every command by `TrackerGroup.add_command`, so it
works before and after the subcommand (`tracker -v check` and `tracker check -v`).
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from tracker.models import FIRST_DATE, latest_date
from tracker.redact import RedactFilter, url_secrets

EXIT_OK, EXIT_NOTHING, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
_VERBOSITY_KEY = "tracker.verbosity"


# --- dates -------------------------------------------------------------------------------


def parse_date(value: str | None, *, name: str = "--date") -> str | None:
    """`YYYY-MM-DD` (surrounding blanks ignored) from 1991-01-01 to tomorrow (UTC) as an ISO date
    string; anything else is a usage error. (A far-future date would stamp `first_seen` ahead, pin
    the feed and open reviews no later run closes; tomorrow is allowed for time zones ahead of UTC.)"""
    if value is None:
        return None
    try:
        day = datetime.date.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD", param_hint=f"'{name}'") from None
    last = latest_date()
    if not FIRST_DATE <= day <= last:
        raise click.BadParameter(
            f"{day.isoformat()} is out of range: give a date from {FIRST_DATE.isoformat()} "
            f"to {last.isoformat()} (tomorrow, UTC)",
            param_hint=f"'{name}'",
        )
    return day.isoformat()


def date_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """click callback for any date option (`--date`, `--since`, `--until`)."""
    name = param.opts[0] if param.opts else param.name
    return parse_date(value, name=name)


def arxiv_id_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """click callback for an arXiv id argument: a malformed id is a usage error (exit 2); the text is kept."""
    from tracker.arxiv_ids import canonical_id
    from tracker.errors import TrackerError

    if value is None:
        return None
    try:
        canonical_id(value)
    except TrackerError as exc:
        raise click.BadParameter(str(exc), param_hint="ARXIV_ID") from None
    return value


# --- options -----------------------------------------------------------------------------

DEFAULT_CONFIG = "keywords.yaml"
_CONFIG_KEY = "tracker.config"
_CONFIG_HELP = "The topics file; paths in it resolve relative to it. Before or after the command name."


def _config_of_group(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """`tracker --config X search q`: remembered for the command, which reads it in `_config_path`."""
    if value is not None:
        ctx.find_root().meta[_CONFIG_KEY] = value


def _config_path(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """The command's own `--config`, else the one given before the command name, else keywords.yaml."""
    given_before = ctx.find_root().meta.get(_CONFIG_KEY)
    if ctx.get_parameter_source(param.name) is click.core.ParameterSource.DEFAULT:
        return given_before or value
    if given_before is not None and value != given_before:
        raise click.BadParameter(f"given twice, as {given_before} and {value}; keep one", param_hint="'--config'")
    return value


config_option = click.option(
    "--config",
    "config_path",
    default=DEFAULT_CONFIG,
    show_default=True,
    callback=_config_path,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_CONFIG_HELP,
)


def config_given_before(ctx: click.Context) -> Path | None:
    """`--config` given before the command name (for a command that takes none: `tracker demo`)."""
    return ctx.find_root().meta.get(_CONFIG_KEY)


def group_config_option() -> click.Option:
    """The group's `--config`, so it may come before the command name (like `-v`)."""
    return click.Option(
        ["--config", "config_path"],
        default=None,
        expose_value=False,
        callback=_config_of_group,
        type=click.Path(dir_okay=False, path_type=Path),
        help=_CONFIG_HELP,
    )


date_option = click.option(
    "--date", "run_date", callback=date_callback, help="Run date YYYY-MM-DD (default: today, UTC)."
)
device_option = click.option(
    "--device",
    type=click.Choice(["cpu", "cuda", "mps"]),
    default=None,
    help="Where to embed (default: embedding.device, else CUDA, then MPS, then CPU).",
)


def json_option(help: str = "Print the result as JSON.") -> Any:  # `help`: click's name
    """`--json` (stored as `as_json`); say in `help` exactly what is printed."""
    return click.option("--json", "as_json", is_flag=True, help=help)


# --- verbosity ---------------------------------------------------------------------------


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (click's test runner swaps it per invocation)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> None:
    """`-v` counts add up wherever they are given: before the subcommand, after it, or both."""
    root = ctx.find_root()
    total = root.meta.get(_VERBOSITY_KEY, 0) + (value or 0)
    root.meta[_VERBOSITY_KEY] = total
    configure_logging(total)


def configure_logging(verbosity: int) -> None:
    """Our warnings by default, INFO with -v, DEBUG with -vv; other libraries' only from WARNING
    (all of them with -vvv). Only the CLI configures logging."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h, _CurrentStderr)), None)
    if handler is None:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    handler.filters = [_OursOrWarnings(everything=verbosity >= 3), RedactFilter(env_url_secrets())]
    logging.getLogger("tracker").setLevel([logging.WARNING, logging.INFO, logging.DEBUG][min(verbosity, 2)])
    if verbosity >= 3:
        root.setLevel(logging.DEBUG)


def env_url_secrets() -> list[str]:
    """Passwords in the endpoint overrides (`http://user:pass@host`), masked in every line we print."""
    return [
        secret
        for key in ("TRACKER_ARXIV_API_URL", "TRACKER_ARXIV_RSS_URL")
        for secret in url_secrets(os.environ.get(key, ""))
    ]


class _OursOrWarnings(logging.Filter):
    def __init__(self, everything: bool):
        super().__init__()
        self.everything = everything

    def filter(self, record: logging.LogRecord) -> bool:
        ours = record.name == "tracker" or record.name.startswith("tracker.")
        return self.everything or ours or record.levelno >= logging.WARNING


def verbose_option() -> click.Option:
    return click.Option(
        ["-v", "--verbose"],
        count=True,
        expose_value=False,
        callback=_set_verbosity,
        help="More log output (-vv debug, -vvv also other libraries' logs); before or after the command name.",
    )


# --- settings and encoder ----------------------------------------------------------------


def load_settings(config_path: Path | str, device: str | None = None):
    """The validated config; `device` (from `--device`) overrides `embedding.device`."""
    from tracker.config import load_settings as load

    settings = load(config_path)
    if device is None:
        return settings
    return settings.model_copy(update={"embedding": settings.embedding.model_copy(update={"device": device})})


def given_encoder(ctx: click.Context, key: str = "encoder") -> Any:
    """An encoder handed in through click's context object, if any (`tracker run` passes it on)."""
    return ctx.obj.get(key) if isinstance(ctx.obj, dict) else None
