"""One object knows the project's layout: paths, templates and encoder all follow the config."""
from __future__ import annotations

from tests.test_trends import timeline
from tracker.config import Settings

TOPICS = [{"name": "T", "keywords": ["t"]}]
MONDAY = "2026-03-30"


def test_paths_are_resolved_once_from_the_config_folder(tmp_path):
    settings = Settings(topics=TOPICS, base_dir=tmp_path, output={"state_dir": "cache/../st", "data_dir": "d"})
    project = settings.project
    assert project.state_dir == tmp_path / "st" and project.data_dir == tmp_path / "d"
    assert project.last_run == tmp_path / "st" / "last_run.json"
    assert project.dry_run_dir("2026-01-02") == tmp_path / "st" / "dry-run" / "2026-01-02"
    assert project.templates_dir == tmp_path / "templates"  # the default override folder, beside the config


def test_the_weekly_review_uses_a_templates_override_beside_the_config(tmp_path):
    """Bug: the README, digest and issue used `templates/` beside keywords.yaml, the weekly review did not."""
    from tracker.pipeline import weekly_review_files

    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "weekly.md.j2").write_text("ours {{ r.week }}, {{ r.topics[0].name }}\n", encoding="utf-8")
    settings = Settings(topics=TOPICS, base_dir=tmp_path, weekly={"weekday": 1, "weeks": 3})
    papers, vectors = timeline()
    (_, page), = weekly_review_files(settings, papers, vectors, MONDAY).items()
    assert page == "ours 2026-W14, T\n"


def test_a_named_templates_dir_is_used_for_the_weekly_review_too(tmp_path):
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "weekly.md.j2").write_text("<b>{{ r.week }}</b>\n", encoding="utf-8")
    from tracker.pipeline import weekly_review_files

    settings = Settings(topics=TOPICS, base_dir=tmp_path, weekly={"weekday": 1, "weeks": 3},
                        output={"templates_dir": "tpl"})
    papers, _ = timeline()
    assert list(weekly_review_files(settings, papers, None, MONDAY).values()) == ["<b>2026-W14</b>\n"]


def test_every_document_encoder_honours_embedding_batch_size(tmp_path, real_encoder):
    """Bug: `run`, `render`, `explain` and `trends` built the encoder without `embedding.batch_size`.

    All of them load it through LazyEncoder (run/render via pipeline.lazy_encoder, explain and
    trends directly); `index` through load_document_encoder."""
    from tracker.enrich.stage import LazyEncoder, load_document_encoder
    from tracker.pipeline import lazy_encoder

    settings = Settings(topics=TOPICS, base_dir=tmp_path, embedding={"batch_size": 7, "device": "cpu"})
    for encoder in (lazy_encoder(settings, True).get(), LazyEncoder(settings).get(), load_document_encoder(settings)):
        assert encoder.batch_size == 7 and encoder.device == "cpu"
        assert encoder.encode(["a paper about graphs"] * 9).shape == (9, real_encoder.dim)
