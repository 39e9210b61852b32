from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.arxiv_fake import FakeArxiv

REAL_MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="session", autouse=True)
def model_cache_dir(tmp_path_factory) -> Path:
    """One model-export cache for the whole session (TRACKER_CACHE_DIR, inherited by subprocesses):
    the real model is exported at most once per session, never into the user's own cache."""
    import os

    folder = tmp_path_factory.mktemp("tracker-cache")
    saved = os.environ.get("TRACKER_CACHE_DIR")
    os.environ["TRACKER_CACHE_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("TRACKER_CACHE_DIR", None)
    else:
        os.environ["TRACKER_CACHE_DIR"] = saved


@pytest.fixture(scope="session")
def real_encoder(model_cache_dir):
    """The production CPU document encoder of the bundled model (exported once per session)."""
    from tracker.enrich.encoders import load_encoder

    return load_encoder(REAL_MODEL, device="cpu")


@pytest.fixture(scope="session")
def real_query_encoder(real_encoder):
    """The production query encoder (fp32 graph of the same export)."""
    from tracker.enrich.encoders import load_query_encoder

    return load_query_encoder(REAL_MODEL)


@pytest.fixture
def arxiv_server(httpserver) -> FakeArxiv:
    """A loopback arXiv serving whatever the test registers (see tests/arxiv_fake.py)."""
    fake = FakeArxiv(base_url=httpserver.url_for("/"))
    httpserver.expect_request("/api/query").respond_with_handler(fake.handle)
    import re

    httpserver.expect_request(re.compile(r"^/rss/.*")).respond_with_handler(fake.handle)
    return fake


@pytest.fixture
def write_config(tmp_path: Path, arxiv_server: FakeArxiv):
    """Write a keywords.yaml pointing at the loopback arXiv, with no courtesy delay."""

    def write(topics_yaml: str, extra: str = "", name: str = "keywords.yaml") -> Path:
        text = textwrap.dedent(f"""\
            arxiv:
              api_url: {arxiv_server.api_url}
              rss_url: {arxiv_server.rss_url}
              delay_seconds: 0
              backoff_seconds: 0
              retries: 3
              timeout_seconds: 5
              page_size: 10
            embedding:
              enabled: false
            """) + textwrap.dedent(extra) + "topics:\n" + textwrap.indent(textwrap.dedent(topics_yaml), "  ")
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(autouse=True)
def outside_github_actions(monkeypatch):
    """Runs behave as on a laptop, in CI too: the feed's repository comes from `publish.repo` unless a
    test sets GITHUB_REPOSITORY itself (tracker.render.feed.repository reads it in Actions)."""
    for name in ("GITHUB_REPOSITORY", "GITHUB_SERVER_URL"):
        monkeypatch.delenv(name, raising=False)
