"""The `tracker` command line: thin click commands over the pipeline stages.

Nothing is imported here eagerly, so `tracker.cli.options` (which the command modules use) loads
without pulling in every command: the console script calls `main`, which imports the group.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cli", "main"]


def main() -> None:
    from tracker.cli.main import main as run

    run()


def __getattr__(name: str) -> Any:  # `from tracker.cli import cli`
    if name == "cli":
        from tracker.cli.main import cli

        return cli
    raise AttributeError(name)
