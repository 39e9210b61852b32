"""paper-tracker: keep a research group on top of arXiv."""

__version__ = "0.1.0"
