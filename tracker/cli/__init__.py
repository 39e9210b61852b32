"""The `tracker` command line: thin click commands over the pipeline stages."""
from tracker.cli.main import cli, main

__all__ = ["cli", "main"]
