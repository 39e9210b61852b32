from __future__ import annotations

import json
import logging
import textwrap

import numpy as np
import pytest

from tracker.config import parse_settings
from tracker.enrich.profile import (
    Profile, ProfileText, build_profile, missing_ids, profile_from_settings, profiles_from_settings,
    read_bibtex, relevance_inputs,
)
from tracker.errors import ConfigError

BIBTEX = r"""% The group's own papers
@string{icse = "International Conference on Software Engineering"}

@article{ribeiro2020,
  title   = {Beyond Accuracy: Behavioral Testing of {NLP} Models with {CheckList}},
  author  = {Ribeiro, Marco Tulio and others},
  eprint  = {2005.04118v1},
  archivePrefix = {arXiv},
}

@inproceedings{pei2017,
  title     = {{DeepXplore}: Automated Whitebox Testing of Deep Learning Systems},
  booktitle = icse,
  url       = {https://arxiv.org/abs/1705.06640v4},
}

@misc{scholar,
  title   = {Some preprint},
  journal = {arXiv preprint arXiv:2301.05651},
}

@article{doi_only,
  title = {Via the DOI},
  doi   = {10.48550/arXiv.1808.05353},
}

@article{broken,
  title = {Unbalanced braces,
  year  = 2020
}

@book{no_id,
  title    = {Software Testing: A Craftsman's Approach},
  abstract = {A textbook on test design.},
  year     = {2013},
}

@article{bad_eprint,
  title  = {Has a bad id},
  eprint = {not-an-id},
}

@article{iacr,
  title  = {A cryptography preprint},
  eprint = {2020/123},
  archivePrefix = {IACR},
}

@article{old_style,
  title  = {Old},
  arxivid = {hep-th/9901001v2},
}
"""


def test_bibtex_ids_from_every_supported_field():
    ids, _, _ = read_bibtex(BIBTEX, source="refs.bib")
    assert ids == ["2005.04118", "1705.06640", "2301.05651", "1808.05353", "hep-th/9901001"]


def test_bibtex_entry_without_id_becomes_profile_text():
    _, texts, _ = read_bibtex(BIBTEX, source="refs.bib")
    titles = [t.label for t in texts]
    assert "Software Testing: A Craftsman's Approach" in titles
    book = texts[titles.index("Software Testing: A Craftsman's Approach")]
    assert book.text == "Software Testing: A Craftsman's Approach. A textbook on test design."
    assert book.date == "2013-01-01"


def test_unreadable_bibtex_entry_is_reported_with_its_line_and_skipped():
    ids, texts, warnings = read_bibtex(BIBTEX, source="refs.bib")
    broken_line = BIBTEX.splitlines().index("@article{broken,") + 1
    assert f"refs.bib line {broken_line}: unreadable BibTeX entry; skipped" in warnings
    # The entry after the broken one is still read.
    assert "Software Testing: A Craftsman's Approach" in [t.label for t in texts]


def test_malformed_eprint_is_named_with_its_line():
    _, texts, warnings = read_bibtex(BIBTEX, source="refs.bib")
    line = BIBTEX.splitlines().index("@article{bad_eprint,") + 1
    assert any(w.startswith(f"refs.bib line {line}:") and "'not-an-id'" in w for w in warnings)
    assert "Has a bad id" in [t.label for t in texts]  # falls back to its title


def test_eprint_of_another_archive_is_not_an_arxiv_id():
    _, texts, warnings = read_bibtex(BIBTEX, source="refs.bib")
    assert "A cryptography preprint" in [t.label for t in texts]
    assert not any("2020/123" in w for w in warnings)


def test_entry_without_key_is_unreadable():
    _, _, warnings = read_bibtex("\n\n@article{\n  title = {No key},\n}\n", source="x.bib")
    assert warnings == ["x.bib line 3: unreadable BibTeX entry; skipped"]


def test_malformed_ids_are_named_and_skipped(caplog):
    with caplog.at_level(logging.WARNING):
        profile = build_profile(
            papers=["arXiv:2401.01234v2", "2401.1234x", "hep-th/9901001", "0808.05394", "2401.01234"]
        )
    assert profile.ids == ("2401.01234", "hep-th/9901001")
    assert len(profile.warnings) == 2
    assert "'2401.1234x'" in profile.warnings[0] and "'0808.05394'" in profile.warnings[1]
    assert "2401.1234x" in caplog.text


def test_profile_from_file_and_interests(tmp_path):
    bib = tmp_path / "group.bib"
    bib.write_text(BIBTEX, encoding="utf-8")
    profile = build_profile(papers=["1705.06640"], bibtex=bib, interests=["metamorphic testing of ML models", " "])
    assert profile.ids[0] == "1705.06640" and profile.ids.count("1705.06640") == 1
    assert profile.texts[0] == ProfileText("interest: metamorphic testing of ML models", "metamorphic testing of ML models")
    assert any(f"{bib} line" in w for w in profile.warnings)


def test_unreadable_bibtex_file_is_a_warning_not_a_crash(tmp_path):
    profile = build_profile(papers=["2401.01234"], bibtex=tmp_path / "missing.bib")
    assert profile.ids == ("2401.01234",)
    assert "missing.bib" in profile.warnings[0]


def test_empty_profile():
    profile = build_profile()
    assert profile.empty and profile == Profile()


def test_missing_ids_keeps_profile_order():
    profile = Profile(ids=("2401.00003", "2401.00001", "hep-th/9901001"))
    assert missing_ids(profile, {"2401.00001"}) == ["2401.00003", "hep-th/9901001"]


# --- named profiles (`profiles:`) and what a run reads --------------------------------------

TOPICS = "topics:\n  - name: A\n    keywords: [a]\n"


def settings_for(tmp_path, extra: str):
    return parse_settings(TOPICS + textwrap.dedent(extra), base_dir=tmp_path)


def test_single_profile_is_one_unnamed_profile(tmp_path):
    settings = settings_for(tmp_path, "profile:\n  papers: ['2401.00001']\n")
    assert profiles_from_settings(settings) == [Profile(name="", ids=("2401.00001",))]


def test_named_profiles_follow_the_unnamed_one_with_their_own_bibtex(tmp_path):
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "stats.bib").write_text("@article{a, title={T}, eprint={1704.08347}}\n", encoding="utf-8")
    settings = settings_for(tmp_path, """\
        profile:
          interests: [reward models]
        profiles:
          - name: Stats
            bibtex: refs/stats.bib
          - name: Vision
            papers: ['2401.00002', bad-id]
        """)
    profiles = profiles_from_settings(settings)
    assert [p.name for p in profiles] == ["", "Stats", "Vision"]
    assert profiles[1].ids == ("1704.08347",) and profiles[2].ids == ("2401.00002",)
    assert profiles[2].warnings == ("profiles[Vision].papers: 'bad-id' is not an arXiv id; skipped",)
    union = profile_from_settings(settings)
    assert union.ids == ("1704.08347", "2401.00002") and [t.text for t in union.texts] == ["reward models"]


def test_no_profile_configured_gives_no_profiles(tmp_path):
    assert profiles_from_settings(settings_for(tmp_path, "")) == []


@pytest.mark.parametrize("extra, message", [
    ("profiles:\n  - name: RM\n    papers: ['2401.00001']\n  - name: rm\n    interests: [x]\n",
     "profile name 'rm' appears twice"),
    ("profiles:\n  - name: RM\n", "profile 'RM' is empty: give it `papers`, `bibtex` or `interests`"),
    ("profiles:\n  - papers: ['2401.00001']\n", "missing key `profiles[0].name`"),
    ("profiles:\n  - name: '  '\n    papers: ['2401.00001']\n", "profile name is empty"),
    ("profiles:\n  - name: RM\n    paper: ['2401.00001']\n", "unknown key `profiles[RM].paper`"),
])
def test_bad_named_profiles_are_one_line_config_errors(tmp_path, extra, message):
    with pytest.raises(ConfigError) as caught:
        settings_for(tmp_path, extra)
    assert message in str(caught.value) and "keywords.yaml:" in str(caught.value)


def test_relevance_inputs_encode_texts_per_profile_and_read_the_ticks(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "feedback.jsonl").write_text(
        json.dumps({"id": "2401.00009v2", "ticked": "2026-01-02", "issue": 4}) + "\n{broken\n", encoding="utf-8")
    settings = settings_for(tmp_path, """\
        profile:
          interests: [one, two]
        profiles:
          - name: P
            papers: ['2401.00001']
          - name: Q
            interests: [three]
        """)
    calls = []

    def encode(texts):
        calls.append(list(texts))
        return np.arange(len(texts) * 2, dtype=np.float32).reshape(-1, 2)

    inputs = relevance_inputs(settings, encode)
    assert calls == [["one", "two", "three"]]  # one batch for every profile
    assert inputs.profile_vectors[""].tolist() == [[0, 1], [2, 3]]
    assert inputs.profile_vectors["P"].shape[0] == 0 and inputs.profile_vectors["Q"].tolist() == [[4, 5]]
    assert inputs.feedback == {"2401.00009": "2026-01-02"}  # the broken line is skipped with a warning
    assert not inputs.empty


def test_relevance_inputs_load_no_model_without_texts(tmp_path):
    settings = settings_for(tmp_path, "profile:\n  papers: ['2401.00001']\n")

    def encode(texts):
        raise AssertionError("no texts: the encoder must not be called")

    inputs = relevance_inputs(settings, encode)
    assert inputs.feedback == {} and not inputs.empty
    assert relevance_inputs(settings_for(tmp_path, ""), encode).empty
