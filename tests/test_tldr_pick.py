"""The TL;DR's pick: which sentence of the abstract states the contribution (before any trimming).

Each case is built to break a picker that leans on one cue alone: the position of the sentence,
its "we", its overlap with the title, or its length.
"""
from __future__ import annotations

import pytest

from tracker.enrich import tldr_model

TITLE = "SliceMAE: masked autoencoders for 3D medical scans"
CONTRIBUTION = "We propose SliceMAE, a masked autoencoder that reconstructs neighbouring slices of 3D medical scans."
OTHERS = [
    "Vision transformers need large labelled datasets to train well.",
    "Labelling medical images is expensive and slow.",
    "Existing self-supervised methods ignore the structure of medical scans.",
    "On three public benchmarks, the model improves Dice scores by 4.1 points on average.",
    "Our code and pretrained weights are released at https://github.com/example/slicemae.",
]


def pick(title: str, sentences: list[str]) -> str:
    return tldr_model.pick_sentence(title, sentences, tldr_model.load_weights()["weights"])


@pytest.mark.parametrize("position", range(len(OTHERS) + 1))
@pytest.mark.parametrize("contribution", [
    CONTRIBUTION,
    "This paper introduces SliceMAE, a masked autoencoder that reconstructs neighbouring slices of 3D medical scans.",
    "SliceMAE is a masked autoencoder that reconstructs neighbouring slices of 3D medical scans.",  # no cue at all
])
def test_the_contribution_is_picked_wherever_it_stands_and_however_it_opens(position, contribution):
    sentences = [*OTHERS[:position], contribution, *OTHERS[position:]]
    assert pick(TITLE, sentences) == contribution


@pytest.mark.parametrize("decoys", [
    # an outline of the paper says "we" too, before or after the contribution
    ["Labelling medical scans is expensive.", CONTRIBUTION,
     "We first review related work and then describe the setting in Section 2."],
    ["We first review related work and then describe the setting in Section 2.",
     "Labelling medical scans is expensive.", CONTRIBUTION],
    # background that repeats the title word for word
    ["Masked autoencoders for 3D medical scans are widely used in radiology.", CONTRIBUTION,
     "It improves Dice by 4 points."],
    # a result stated as "we show", first or last
    ["We show that our method improves Dice scores by 4.1 points on three benchmarks.",
     "Labelling scans is expensive.", CONTRIBUTION],
    ["Labelling scans is expensive.", CONTRIBUTION,
     "We show that our method improves Dice scores by 4.1 points on three benchmarks."],
    # the research question, sharing the title's words
    ["Can masked autoencoders learn from 3D medical scans without labels?", CONTRIBUTION,
     "Experiments on 3 datasets confirm it."],
])
def test_outlines_results_questions_and_title_echoes_are_passed_over(decoys):
    assert pick(TITLE, decoys) == CONTRIBUTION


def test_the_contribution_after_a_problem_statement_is_picked():
    sentences = [
        "Language models are often overconfident.",
        "However, calibration methods need labelled data from the target domain.",
        "To address this, we present TempEns, an unsupervised ensemble of temperatures that calibrates "
        "language models without labels.",
        "Experiments on 6 datasets show that TempEns reduces calibration error by 35%.",
    ]
    assert pick("Calibrating language models with temperature ensembles", sentences) == sentences[2]
