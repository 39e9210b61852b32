"""`tracker explain` on real abstracts (the recorded arXiv responses) with a crude real encoder."""
from __future__ import annotations

import functools
import json
import textwrap

import click
import pytest
from click.testing import CliRunner

from tests.search_fakes import HashEncoder, fixture_papers
from tracker.cli.relevance import register
from tracker.store.journal import commit
from tracker.store.ledger import Ledger, journal_path

ML_TESTING = ["1808.05353", "1912.04900", "2202.12139", "2301.05651"]  # the group's papers
TARGET = "1907.06632"  # Metamorphic Testing of a Deep Learning based Forecaster


@pytest.fixture
def cli():
    @click.group()
    def group():
        pass

    register(group)
    return group


@functools.cache
def real_papers():
    return tuple(fixture_papers())


def write_project(tmp_path, profile_yaml: str, feedback: list[str] = ()):
    papers = {p.id: p for p in real_papers()}
    papers[TARGET] = papers[TARGET].with_changes(relevance=0.5, comment="Code: https://github.com/lab/forecast")
    commit(Ledger(papers).files(tmp_path / "data"), journal_path(tmp_path / "data"))
    if feedback:
        lines = [json.dumps({"id": pid, "ticked": "2026-05-01", "issue": 3}) for pid in feedback]
        (tmp_path / "data" / "feedback.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "keywords.yaml").write_text(
        "topics:\n  - name: Testing\n    keywords: [testing]\n" + textwrap.dedent(profile_yaml), encoding="utf-8")
    return tmp_path / "keywords.yaml"


def run(cli, config, *args, encoder=None):
    return CliRunner().invoke(cli, ["explain", *args, "--config", str(config)], obj={"encoder": encoder or HashEncoder()})


def test_explain_json_names_method_score_and_the_positives_that_pushed_it_up(cli, tmp_path):
    config = write_project(tmp_path, f"""\
        profile:
          papers: {ML_TESTING + ["arXiv:2409.99999v2"]}
          interests: ["metamorphic testing of machine learning models"]
        """, feedback=["2103.02870"])
    result = run(cli, config, f"arXiv:{TARGET}v1", "--json", "-k", "2")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (entry,) = data["profiles"]
    assert entry["method"] == "classifier"
    assert entry["positives_used"] == 6 and entry["feedback_used"] == 1  # 4 papers + 1 interest + 1 tick
    assert 0 < entry["score"] < 1 and len(entry["top_positives"]) == 2
    first, second = entry["top_positives"]
    assert first["contribution"] >= second["contribution"] > 0
    assert entry["positives_term"] + entry["negatives_term"] + entry["intercept"] == pytest.approx(entry["logit"], abs=2e-3)
    assert data["own"] is False and data["stored_relevance"] == 0.5
    assert data["code_links"] == ["https://github.com/lab/forecast"]
    assert data["profile_not_in_ledger"] == ["2409.99999"]


def test_explain_text_output_says_where_the_score_came_from(cli, tmp_path):
    config = write_project(tmp_path, f"""\
        profiles:
          - name: ML testing
            papers: {ML_TESTING}
          - name: Newcomer
            papers: ["1704.08347"]
        """)
    result = run(cli, config, TARGET)
    assert result.exit_code == 0, result.output
    assert "profile 'ML testing': score 0." in result.output and "classifier trained on 4 positives" in result.output
    assert "profile 'Newcomer': score 0." in result.output
    assert "similarity fallback: mean similarity to 1 positives" in result.output
    assert "= logit" in result.output
    only = run(cli, config, TARGET, "--profile", "newcomer", "--json")
    assert [p["profile"] for p in json.loads(only.output)["profiles"]] == ["Newcomer"]


def test_explain_of_the_groups_own_paper_says_it_is_never_a_pick(cli, tmp_path):
    config = write_project(tmp_path, f"profile:\n  papers: {ML_TESTING}\n")
    result = run(cli, config, ML_TESTING[0])
    assert result.exit_code == 0, result.output
    assert "never a top pick" in result.output


def test_explain_with_ticks_only(cli, tmp_path):
    config = write_project(tmp_path, "", feedback=["1808.05353", "2202.12139", "2103.02870"])
    data = json.loads(run(cli, config, TARGET, "--json").output)
    (entry,) = data["profiles"]
    assert entry["profile"] == "" and entry["method"] == "classifier" and entry["feedback_used"] == 3
    assert all(item["ticked"] for item in entry["top_positives"])


def test_explain_scores_what_the_run_scores(cli, tmp_path):
    from tracker.config import load_settings
    from tracker.enrich.profile import relevance_inputs
    from tracker.enrich.relevance import score_profiles

    config = write_project(tmp_path, f"profile:\n  papers: {ML_TESTING}\n  interests: [testing deep learning]\n")
    encoder = HashEncoder()
    data = json.loads(run(cli, config, TARGET, "--json", encoder=encoder).output)
    inputs = relevance_inputs(load_settings(config), encoder.encode)
    papers = sorted(real_papers(), key=lambda p: p.id)
    scored = score_profiles(papers, encoder.encode([f"{p.title}. {p.abstract}" for p in papers]),
                            inputs.profiles, inputs.profile_vectors, inputs.feedback)
    assert data["profiles"][0]["score"] == round(scored.scores[""][TARGET], 4)


@pytest.mark.parametrize("args, profile_yaml, message", [
    (["2402.00001"], "profile:\n  papers: ['1808.05353']\n", "2402.00001 is not in the ledger"),
    ([TARGET], "", "no profile configured"),
])
def test_explain_errors_are_one_line(cli, tmp_path, args, profile_yaml, message):
    config = write_project(tmp_path, profile_yaml)
    result = run(cli, config, *args)
    assert result.exit_code != 0
    assert message in str(result.exception) and "\n" not in str(result.exception)


def test_malformed_id_is_a_usage_error(cli, tmp_path):
    config = write_project(tmp_path, "profile:\n  papers: ['1808.05353']\n")
    result = run(cli, config, "not-an-id")
    assert result.exit_code == 2 and "not an arXiv identifier: 'not-an-id'" in result.output


def test_unknown_profile_is_a_usage_error_naming_the_profiles(cli, tmp_path):
    config = write_project(tmp_path, f"profiles:\n  - name: RM\n    papers: {ML_TESTING}\n")
    result = run(cli, config, TARGET, "--profile", "nope")
    assert result.exit_code == 2
    assert "no profile named 'nope'; named profiles: 'RM'" in result.output
