"""How close is the extractive TL;DR to the one-line summaries people wrote? SciTLDR, scored as its paper does.

Data: ../shared/fixtures/scitldr/{train,dev}.jsonl (SciTLDR-A; see that folder's README).
Scoring (the SciTLDR paper's cal-rouge.py): per paper, the reference with the highest ROUGE-1 F1
against the system's line supplies ROUGE-1/2/L F1; mean over papers, x100; no stemming; Google's
rouge-score. The method under test (tracker.enrich.tldr_model.extractive_tldr) gets what
production has: the title and the abstract as one string (the dataset's sentences joined), not
the pre-split sentences. The baselines pick from the dataset's own sentences, as published.
The weights were fitted on train only (benchmarks/tldr_fit.py); dev is never fitted on.

    python benchmarks/tldr.py                # dev split
    python benchmarks/tldr.py --split train  # sanity check on the fitting data
    python benchmarks/tldr.py --data DIR     # another folder holding {train,dev}.jsonl

Measured on dev (619 papers), ROUGE-1 / ROUGE-2 / ROUGE-L (2 shared CPU cores, load average 9-10):
  first sentence 27.2 / 9.9 / 21.2; "we propose..." rule 35.5 / 16.9 / 28.9; title 33.2 / 16.8 /
  28.5; oracle best sentence 44.7 / 23.7 / 36.5; extractive_tldr 38.5 / 19.1 / 31.9 at 0.5-2.2 ms
  per paper. Short of the 40 target, and not for lack of a better pick: the pick is already past
  what two people agree on. On the 525 dev papers with 2+ TL;DRs, against one TL;DR at a time
  (last lines printed): the sentence best matching *another* TL;DR of the paper 26.0, our pick
  (untrimmed) 28.9, that TL;DR's own best sentence 35.5. Scored as a system against the paper's
  other TL;DRs (leave one out, 1,359 TL;DRs), a person's TL;DR gets 28.1 ROUGE-1 and our line
  33.7: by this metric our line already matches people better than people match each other.
  Out-of-fold on train (5 folds, ROUGE-1 of the trimmed pick; now 35.5, oracle sentence 43.2)
  nothing tried moved the pick beyond noise (paired standard error ~0.15): whole-abstract features
  (LexRank centrality, overlap with the rest, ranks by title overlap and centrality, position from
  the end, acronym definitions, the neighbours' opening words) 35.4; soft labels from the trimmed
  sentence's ROUGE-1 or ROUGE-1/2/L mixes, tau 0.02-0.5, L2 10-300, feature cut-off 10-160 papers
  35.2-35.6; a word-level Poisson model of which abstract words the TL;DR repeats (expected F1 per
  sentence) 35.5 alone, 35.7 added to the score; ranking (sentence x clause cut) candidates of the
  top 3 sentences 35.65 (their oracle 44.2); all-MiniLM-L6-v2 sentence vectors (cosines to the
  abstract, the title, the other sentences; or the 384 dimensions) 35.65, while the encoder alone
  costs ~100-140 ms per paper on the abstract's sentences against ~1.4 ms for the whole TL;DR.
  The linear pick reaches only 36.8 in-sample. What remains is in the line made from the pick:
  the best prefix of the picked sentence scores 39.6 on train (38.1 cut at a clause boundary).
  A learned trim of that line (a logistic word model choosing the lead-in/trailing-clause span of
  highest expected ROUGE-1, fitted on out-of-fold train picks; branch work, not shipped) added
  +0.05 on train and 0.0 on dev, though the best such cut per line would reach ~39 on train and
  41.5 on dev: over 5,074 candidate cuts on train, 33% of a trailing clause's words are in the
  authors' TL;DR against 36% of the words kept, and a cut raises F1 only when that share is below
  F1/2 (~18%), so which cut helps is not predictable from the sentence. Adding words pays only
  above that share: the next sentence's words 10-14%; the title's new words 34% (not used: the
  reader sees the title right above the line).
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.enrich import tldr_model  # noqa: E402
from tracker.enrich.tldr_model import extractive_tldr  # noqa: E402

# ../shared/fixtures/scitldr from the project root (from a worktree, the nearest such folder above it).
DEFAULT_DATA = next(
    (d / "shared" / "fixtures" / "scitldr" for d in ROOT.parents if (d / "shared" / "fixtures" / "scitldr").is_dir()),
    ROOT.parent / "shared" / "fixtures" / "scitldr",
)
# The SciTLDR paper's "we propose" baseline: the first sentence saying one of these.
CUE = re.compile(r"\b(?:we propose|we present|we introduce|this paper|we show|we develop)\b", re.IGNORECASE)


def load(data: Path, split: str) -> list[dict]:
    path = data / f"{split}.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path}: not found (pass --data DIR holding {split}.jsonl)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def scorer(types=("rouge1", "rouge2", "rougeL")):
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(types), use_stemmer=False)


def best_reference(rouge, system: str, references: list[str]) -> dict[str, float]:
    """F1 of each ROUGE type against the reference with the highest ROUGE-1 F1 (cal-rouge.py)."""
    scores = [rouge.score(ref, system) for ref in references]
    best = max(scores, key=lambda s: s["rouge1"].fmeasure)
    return {name: s.fmeasure for name, s in best.items()}


def first_sentence(row: dict) -> str:
    return row["source"][0]


def cue_rule(row: dict) -> str:
    return next((s for s in row["source"] if CUE.search(s)), row["source"][0])


def title(row: dict) -> str:
    return row["title"]


def oracle(rouge, row: dict) -> str:
    return max(row["source"], key=lambda s: best_reference(rouge, s, row["target"])["rouge1"])


def production_input(row: dict) -> tuple[str, str]:
    return row["title"], " ".join(row["source"])


def evaluate(rows: list[dict]) -> list[tuple[str, dict[str, float], float | None]]:
    rouge = scorer()
    systems = {
        "first sentence": first_sentence,
        "'we propose...' rule": cue_rule,
        "title": title,
        "oracle best sentence (ceiling)": lambda row: oracle(rouge, row),
    }
    results = []
    for name, pick in systems.items():
        results.append((name, mean_scores(rouge, rows, [pick(r) for r in rows]), None))
    start = time.perf_counter()
    ours = [extractive_tldr(*production_input(r)) for r in rows]
    ms = (time.perf_counter() - start) * 1000 / len(rows)
    results.append(("extractive_tldr (ours)", mean_scores(rouge, rows, ours), ms))
    return results


def mean_scores(rouge, rows: list[dict], outputs: list[str]) -> dict[str, float]:
    per_paper = [best_reference(rouge, out, row["target"]) for out, row in zip(outputs, rows)]
    return {name: 100 * statistics.fmean(p[name] for p in per_paper) for name in ("rouge1", "rouge2", "rougeL")}


def pick_agreement(rows: list[dict]) -> tuple[int, dict[str, float]] | None:
    """How well do people agree on the sentence to pick? On papers with 2+ TL;DRs, against one TL;DR
    at a time (ROUGE-1 F1 x100): the sentence best matching *another* TL;DR of the paper (a second
    reader's pick), our picked sentence (untrimmed: the pick alone), and that TL;DR's own best sentence.
    None when no paper has two TL;DRs (train)."""
    rouge, weights = scorer(("rouge1",)), tldr_model.load_weights()["weights"]
    scores: dict[str, list[float]] = {"another TL;DR's best sentence": [], "our pick": [], "own best sentence": []}
    papers = 0
    for row in rows:
        title, abstract = production_input(row)
        sentences = tldr_model.abstract_sentences(abstract)
        if len(row["target"]) < 2 or not sentences:
            continue
        papers += 1
        ours = tldr_model.pick_sentence(title, sentences, weights)
        r1 = [[rouge.score(ref, s)["rouge1"].fmeasure for s in sentences] for ref in row["target"]]
        for a, other in enumerate(r1):
            for b, mine in enumerate(r1):
                if a != b:
                    scores["another TL;DR's best sentence"].append(mine[other.index(max(other))])
                    scores["our pick"].append(rouge.score(row["target"][b], ours)["rouge1"].fmeasure)
                    scores["own best sentence"].append(max(mine))
    return (papers, {name: 100 * statistics.fmean(v) for name, v in scores.items()}) if papers else None


def leave_one_out(rows: list[dict]) -> tuple[int, float, float] | None:
    """Does a person's TL;DR match the others' better than ours? On papers with 2+ TL;DRs, each
    TL;DR in turn is scored as a system against the paper's other TL;DRs (ROUGE-1 F1 of the best
    match, x100), and our line against the same others: (TL;DRs, theirs, ours); None on train."""
    rouge = scorer(("rouge1",))
    theirs, ours = [], []
    for row in rows:
        if len(row["target"]) < 2:
            continue
        line = extractive_tldr(*production_input(row))
        for i, person in enumerate(row["target"]):
            others = row["target"][:i] + row["target"][i + 1 :]
            theirs.append(best_reference(rouge, person, others)["rouge1"])
            ours.append(best_reference(rouge, line, others)["rouge1"])
    return (len(theirs), 100 * statistics.fmean(theirs), 100 * statistics.fmean(ours)) if theirs else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", default="dev", choices=("dev", "train"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    rows = load(args.data, args.split)
    extractive_tldr(*production_input(rows[0]))  # load the weights outside the timing
    print(f"SciTLDR {args.split}: {len(rows)} papers; ROUGE F1 x100 against the best-matching reference")
    print(f"{'system':34} {'R1':>6} {'R2':>6} {'RL':>6}  ms/paper")
    for name, s, ms in evaluate(rows):
        timing = f"{ms:8.2f}" if ms is not None else ""
        print(f"{name:34} {s['rouge1']:6.1f} {s['rouge2']:6.1f} {s['rougeL']:6.1f}  {timing}")
    agreement = pick_agreement(rows)
    if agreement:
        papers, r1 = agreement
        print(f"Sentence picks on the {papers} papers with 2+ TL;DRs, ROUGE-1 against one TL;DR at a time:")
        print("  " + "; ".join(f"{name} {value:.1f}" for name, value in r1.items()))
    people = leave_one_out(rows)
    if people:
        count, theirs, ours = people
        print(f"Each of {count} TL;DRs of those papers against the paper's other TL;DRs (ROUGE-1, best match):")
        print(f"  the person's own line {theirs:.1f}; our line {ours:.1f}")


if __name__ == "__main__":
    main()
