"""One error type for everything the user can fix; the CLI turns it into one line."""

from __future__ import annotations


class TrackerError(Exception):
    """A problem the user can act on. `str()` is the one-line message shown to them."""

    exit_code = 1


class ConfigError(TrackerError):
    """keywords.yaml is invalid; the message names the key and line."""

    exit_code = 2


class UsageError(TrackerError):
    """A command-line argument or option is invalid (exit 2, like a bad config)."""

    exit_code = 2


class SourceError(TrackerError):
    """arXiv could not answer one topic's query (after retries) or rejected it."""


class ArxivUnreachable(SourceError):
    """The run's first request could not resolve or reach arXiv: stop every topic at once."""
