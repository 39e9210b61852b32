"""Theme labels beyond one group's text: acronyms and inflections as one concept, no phrase in two
themes' labels, generic phrases (by the ledger's document frequency) dropped, candidates re-ranked
by closeness to the theme's centre with the run's encoder in one batch."""
from __future__ import annotations

import numpy as np

from tests.search_fakes import HashEncoder
from tracker.enrich.background import Background, label_context, normalise
from tracker.enrich.labels import LabelContext, acronyms, concept, label_phrases, phrase_key


def test_acronyms_and_inflections_are_one_concept():
    docs = ["We study large language models (LLMs) and vision-language models (VLMs).",
            "Graph neural networks (GNNs) on molecules; reinforcement learning (RL) agents (see Fig. 2 (a))."]
    found = acronyms(docs)
    assert found == {"llm": "large language model", "vlm": "vision language model", "gnn": "graph neural network",
                     "rl": "reinforcement learning"}
    assert concept("LLMs", found) == concept("large language models", found) == {"large", "language", "model"}
    assert concept("language model", found) < concept("LLMs", found)
    assert concept("VLMs", found) == concept("vision language models", found)
    assert phrase_key("Policies") == "policy" and phrase_key("analysis") == "analysis" and phrase_key("LLMs") == "llm"


def test_acronym_definitions_that_do_not_spell_the_words_are_ignored():
    assert acronyms(["a method (MAML) for us", "results (Table 1)", "deep networks (DN) and (X)"]) == {"dn": "deep network"}


def docs_of(groups: dict[str, list[str]]) -> tuple[list[str], list[list[int]]]:
    docs, members = [], []
    for _, texts in groups.items():
        members.append(list(range(len(docs), len(docs) + len(texts))))
        docs += texts
    return docs, members


TWO_THEMES = {  # both are about LLMs, one spelling it out, the other by acronym
    "agents": [f"Tool agents {k}\nLarge language models call tools as agents; tool use by large language models."
               for k in range(6)],
    "safety": [f"Jailbreak attacks {k}\nJailbreak prompts make LLMs say harmful things; LLMs refuse less."
               for k in range(4)],
}


def test_no_phrase_labels_two_themes_even_as_an_acronym():
    docs, groups = docs_of(TWO_THEMES)
    docs[0] += " We call them large language models (LLMs)."
    labels = label_phrases(docs, groups)
    said = [concept(t, acronyms(docs)) for terms in labels for t in terms]
    llm = concept("LLMs", acronyms(docs))
    assert sum(s <= llm or llm <= s for s in said) <= 1, labels
    assert all(labels), labels  # the smaller theme found another phrase


def test_phrases_common_across_the_ledger_lose():
    docs, groups = docs_of(TWO_THEMES)
    plain = label_phrases(docs, groups)
    cliche = plain[0][0]  # what the agents theme is called without a background
    ledger = [f"Paper {k}\nWe use {cliche} and neural networks." for k in range(30)] + docs + \
        [f"Unrelated {k}\nSomething else entirely." for k in range(200)]
    background = Background(ledger, shipped=(0, {}))
    labels = label_phrases(docs, groups, context=LabelContext(background=background))
    assert labels[0] and cliche not in labels[0] and not any(background.generic(t) for t in labels[0]), labels


def test_background_counts_inflections_and_pools_the_shipped_table():
    ledger = Background(["Policies for agents.", "A policy!", "Nothing here"], shipped=(7, {"policy": 1}))
    assert ledger.docs == 10 and ledger.share("policies") == 0.3 and ledger.generic("Policy")
    assert normalise("Deep-RL, LLMs.") == " deep-rl llms "
    assert Background(["x"]).docs > 1  # the shipped table is on by default


class PhraseEncoder(HashEncoder):
    """Counts its calls, so a test can see the labels embed their phrases in one batch."""

    def __init__(self):
        super().__init__(dim=128)
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        return super().encode(texts)


def test_candidates_are_reranked_by_closeness_to_the_centre_in_one_batch():
    # every paper says "benchmark suite" and "protein folding" equally often; the theme's papers'
    # vectors are about protein folding, so that phrase names it
    docs = [f"Protein folding benchmark suite {k}\nA benchmark suite for protein folding." for k in range(6)]
    docs += [f"Quantum error correction {k}\nSurface codes for quantum error correction." for k in range(6)]
    encoder = PhraseEncoder()
    vectors = np.vstack([encoder.encode(["protein folding"] * 6), encoder.encode(["quantum error correction"] * 6)])
    encoder.calls = 0
    groups = [list(range(6)), list(range(6, 12))]
    labels = label_phrases(docs, groups, vectors=vectors, context=LabelContext(encoder=encoder))
    assert labels[0][0].lower() == "protein folding" and encoder.calls == 1
    without = label_phrases(docs, groups)
    assert without[0][0].lower() != "protein folding"  # c-TF-IDF alone prefers the other, as long, phrase


def test_label_context_reads_the_ledger_texts_once():
    context = label_context(None, iter(["A paper\nabout graphs", "Another\nabout graphs"]))
    assert context.encoder is None and context.background.share("graphs") > 0


def test_a_missing_or_damaged_shipped_table_leaves_the_ledger_to_decide(tmp_path, monkeypatch):
    from tracker.enrich import background

    for content in (None, "{not json", '{"docs": "many", "counts": []}', "[1, 2]"):
        path = tmp_path / "table.json"
        if content is not None:
            path.write_text(content, encoding="utf-8")
        monkeypatch.setattr(background, "SHIPPED", path)
        assert background.shipped_table() == (0, {})
        assert Background(["graph papers", "more graph papers"]).share("graph") == 1.0
