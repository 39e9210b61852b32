from __future__ import annotations

import json
import re
import textwrap
import zlib

import click
import numpy as np
import pytest
from click.testing import CliRunner

from tracker.store.ledger import Ledger
from tracker.models import Paper
from tracker.cli.relevance import register

pytest.importorskip("tracker.enrich.embed")  # paper_text lives there


class BagOfWordsEncoder:
    """A real, crude encoder: texts sharing words get close vectors."""

    model_name = "fake-bow"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), 128), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, zlib.crc32(word.encode()) % 128] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def make_paper(pid, title, abstract):
    return Paper(id=pid, version=1, title=title, abstract=abstract, categories=("cs.SE",),
                 published="2024-01-02T00:00:00Z")


@pytest.fixture
def cli():
    @click.group()
    def group():
        pass

    register(group)
    return group


@pytest.fixture
def project(tmp_path):
    ledger = Ledger({p.id: p for p in [
        make_paper("2401.00001", "Metamorphic testing of deep learning classifiers",
                   "We test image classifiers with metamorphic relations. Code: https://github.com/lab/mt."),
        make_paper("2401.00002", "Mutation testing for neural networks", "Mutation operators for deep learning."),
        make_paper("2401.00003", "Black hole thermodynamics", "Entropy of horizons in gravity."),
    ]})
    ledger.save(tmp_path / "data")
    (tmp_path / "keywords.yaml").write_text(textwrap.dedent("""\
        topics:
          - name: Testing
            keywords: [testing]
        profile:
          papers: ["2401.00002", "arXiv:2409.99999v2", not-an-id]
          interests: ["black holes and gravity"]
        """), encoding="utf-8")
    return tmp_path


def test_explain_lists_closest_profile_items(cli, project):
    result = CliRunner().invoke(
        cli, ["explain", "arXiv:2401.00001v1", "--json", "--config", str(project / "keywords.yaml")],
        obj={"encoder": BagOfWordsEncoder()},
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    labels = [item["label"] for item in data["closest"]]
    assert labels == ["2401.00002 Mutation testing for neural networks", "interest: black holes and gravity"]
    assert data["relevance"] == data["closest"][0]["similarity"] > data["closest"][1]["similarity"]
    assert data["code_links"] == ["https://github.com/lab/mt"]
    assert data["profile_not_in_ledger"] == ["2409.99999"]


def test_explain_unknown_paper_is_a_one_line_error(cli, project):
    result = CliRunner().invoke(cli, ["explain", "2402.00001", "--config", str(project / "keywords.yaml")],
                                obj={"encoder": BagOfWordsEncoder()})
    assert result.exit_code != 0
    assert "2402.00001 is not in the ledger" in str(result.exception)
