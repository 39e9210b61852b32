from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.arxiv_fake import FakeArxiv


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
