"""One project's layout, from its Settings: where each file lives, which templates, which encoder.

Every stage asks `settings.project` instead of re-deriving a path from `settings.output`, so
a folder is named in exactly one place (the template environment is built from `templates_dir`
by tracker.render.markdown.environment_for, the encoder from `embedding` by
tracker.enrich.stage.load_document_encoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tracker.config import Settings

LAST_RUN_FILE = "last_run.json"  # the run summary (tracker.models.RunSummary) that `publish` reads
DRY_RUN_DIR = "dry-run"  # `run --dry-run` previews, one folder per date
LEDGER_INDEX_DIR = "ledger-index"  # tracker.store.ledger_index
NOTIFY_DIR = "notify"  # what `tracker notify` sent, per date


@dataclass(frozen=True)
class Project:
    state_dir: Path  # private state: vectors, locks, the last run, render state
    data_dir: Path  # the ledger shards
    digest_dir: Path
    archive_dir: Path
    readme: Path
    templates_dir: Path  # the user's template overrides (a `templates/` folder beside the config by default)
    embedding: Any  # config.EmbeddingSettings: model, device, batch_size

    @classmethod
    def from_settings(cls, settings: Settings) -> Project:
        out = settings.output
        return cls(
            state_dir=settings.path(out.state_dir),
            data_dir=settings.path(out.data_dir),
            digest_dir=settings.path(out.digest_dir),
            archive_dir=settings.path(out.archive_dir),
            readme=settings.path(out.readme),
            templates_dir=settings.path(out.templates_dir or "templates"),
            embedding=settings.embedding,
        )

    @property
    def last_run(self) -> Path:
        return self.state_dir / LAST_RUN_FILE

    @property
    def ledger_index(self) -> Path:
        return self.state_dir / LEDGER_INDEX_DIR

    def dry_run_dir(self, date: str) -> Path:
        return self.state_dir / DRY_RUN_DIR / date

    def notify_record(self, date: str) -> Path:
        return self.state_dir / NOTIFY_DIR / f"{date}.json"
