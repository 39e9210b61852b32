"""Fit the extractive TL;DR model on SciTLDR train and write tracker/enrich/tldr_weights.json.

1. Sentence picker: a linear model over tracker.enrich.tldr_model.sentence_features, fitted as
   a softmax over each abstract's sentences (a conditional logit) toward soft targets
   softmax(ROUGE-1 of each sentence against the authors' TL;DR / tau), with an L2 penalty.
   Features seen in fewer than MIN_DOCS training abstracts are left out. tau and the penalty
   are chosen by 5-fold cross-validation on train (mean ROUGE-1 of the picked sentence).
2. Trimming: starting from no edit, greedily add the edit of tldr_model.TRIMS that raises mean
   ROUGE-1 on train most (applied to the out-of-fold picks), until none gains MIN_GAIN points;
   then every edit that costs at most FREE_EDIT (a shorter line for the reader); then the word budget.
Deterministic: same data, same file. Needs scipy and rouge-score (the `bench` extra); the
tracker itself needs neither at run time.

    python benchmarks/tldr_fit.py [--data DIR]
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.tldr import DEFAULT_DATA, best_reference, load, production_input, scorer  # noqa: E402
from tracker.enrich import tldr_model  # noqa: E402

OUT = Path(tldr_model.__file__).with_name(tldr_model.WEIGHTS_FILE)
MIN_DOCS = 40
FOLDS = 5
TAUS = (0.05, 0.1)
L2S = (10.0, 30.0, 100.0)
WORD_BUDGETS = (20, 25, 30, 35, 40, 50, tldr_model.HARD_MAX_WORDS)
MIN_GAIN = 0.02  # ROUGE-1 points (x100) an edit must add on train to be kept for its gain
FREE_EDIT = 0.01  # ... or the most it may cost to be kept for the shorter line alone


def prepare(rows: list[dict]) -> list[dict]:
    """Per paper: production sentences, their features and ROUGE-1 against the references."""
    rouge = scorer(("rouge1",))
    docs = []
    for row in rows:
        title, abstract = production_input(row)
        sentences = tldr_model.abstract_sentences(abstract)
        if not sentences:
            continue
        gains = [best_reference(rouge, s, row["target"])["rouge1"] for s in sentences]
        docs.append({"title": title, "sentences": sentences, "targets": row["target"],
                     "features": tldr_model.sentence_features(title, sentences), "gains": np.array(gains)})
    return docs


def vocabulary(docs: list[dict]) -> list[str]:
    seen = Counter(name for d in docs for name in set().union(*d["features"]))
    return sorted(name for name, n in seen.items() if n >= MIN_DOCS)


def design(docs: list[dict], names: list[str]):
    from scipy import sparse

    index = {name: j for j, name in enumerate(names)}
    rows, cols, vals = [], [], []
    r = 0
    for d in docs:
        for features in d["features"]:
            for name, value in features.items():
                if name in index and value:
                    rows.append(r), cols.append(index[name]), vals.append(value)
            r += 1
    return sparse.csr_matrix((vals, (rows, cols)), shape=(r, len(names)))


def fit(docs: list[dict], X, tau: float, l2: float) -> np.ndarray:
    """Weights minimising cross-entropy between softmax(Xw) and softmax(gains/tau) within each abstract."""
    from scipy.optimize import minimize

    starts = np.cumsum([0] + [len(d["sentences"]) for d in docs])[:-1]
    gains = np.concatenate([d["gains"] for d in docs])
    q = _segment_softmax(gains / tau, starts)

    def loss(w):
        s = X @ w
        p = _segment_softmax(s, starts)
        lse = np.log(np.add.reduceat(np.exp(s - _segment_max(s, starts)), starts)) + np.maximum.reduceat(s, starts)
        value = lse.sum() - q @ s + 0.5 * l2 * w @ w
        return value, X.T @ (p - q) + l2 * w

    result = minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return result.x


def _segment_max(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.repeat(np.maximum.reduceat(values, starts), np.diff(np.append(starts, len(values))))


def _segment_softmax(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    e = np.exp(values - _segment_max(values, starts))
    sums = np.add.reduceat(e, starts)
    return e / np.repeat(sums, np.diff(np.append(starts, len(values))))


def picks(docs: list[dict], X, w: np.ndarray) -> list[int]:
    s = X @ w
    out, r = [], 0
    for d in docs:
        n = len(d["sentences"])
        out.append(int(np.argmax(s[r:r + n])))  # argmax takes the first of equal scores, as production does
        r += n
    return out


def cross_validate(docs: list[dict], names: list[str]) -> tuple[float, float, list[int]]:
    """Best (tau, l2) by mean out-of-fold ROUGE-1 of the picked sentence, and that setting's picks."""
    folds = [[i for i in range(len(docs)) if i % FOLDS == k] for k in range(FOLDS)]
    best = None
    for tau in TAUS:
        for l2 in L2S:
            chosen = [0] * len(docs)
            for held in folds:
                held_set = set(held)
                train = [docs[i] for i in range(len(docs)) if i not in held_set]
                w = fit(train, design(train, names), tau, l2)
                test = [docs[i] for i in held]
                for i, k in zip(held, picks(test, design(test, names), w)):
                    chosen[i] = k
            r1 = 100 * np.mean([d["gains"][k] for d, k in zip(docs, chosen)])
            print(f"  tau={tau:<5} l2={l2:<5} out-of-fold ROUGE-1 of the pick {r1:.2f}")
            if best is None or r1 > best[0]:
                best = (r1, tau, l2, chosen)
    return best[1], best[2], best[3]


def trimmed_r1(docs: list[dict], chosen: list[int], trims: list[str], max_words: int, rouge) -> float:
    lines = [tldr_model.trim(d["sentences"][k], trims, max_words) for d, k in zip(docs, chosen)]
    return 100 * float(np.mean([best_reference(rouge, line, d["targets"])["rouge1"] for line, d in zip(lines, docs)]))


def choose_trims(docs: list[dict], chosen: list[int]) -> tuple[list[str], int]:
    rouge = scorer(("rouge1",))
    order = list(tldr_model.TRIMS)
    enabled: list[str] = []
    current = trimmed_r1(docs, chosen, enabled, tldr_model.HARD_MAX_WORDS, rouge)
    print(f"  no edit: {current:.2f}")
    while True:
        trials = {}
        for name in order:
            if name not in enabled:
                candidate = [n for n in order if n in enabled or n == name]
                trials[name] = trimmed_r1(docs, chosen, candidate, tldr_model.HARD_MAX_WORDS, rouge)
        if not trials:
            break
        name, value = max(trials.items(), key=lambda kv: (kv[1], -order.index(kv[0])))
        print("  " + ", ".join(f"+{n} {v:.2f}" for n, v in trials.items()))
        if value - current < MIN_GAIN:
            break
        enabled = [n for n in order if n in enabled or n == name]
        current = value
    # An edit that costs (almost) no ROUGE still gives the reader a shorter line ("Code is at ...").
    for name in order:
        if name in enabled:
            continue
        candidate = [n for n in order if n in enabled or n == name]
        value = trimmed_r1(docs, chosen, candidate, tldr_model.HARD_MAX_WORDS, rouge)
        if value >= current - FREE_EDIT:
            print(f"  +{name} {value:.2f} (costs at most {FREE_EDIT})")
            enabled, current = candidate, value
    budgets = {b: trimmed_r1(docs, chosen, enabled, b, rouge) for b in WORD_BUDGETS}
    print("  word budget: " + ", ".join(f"{b}: {v:.2f}" for b, v in budgets.items()))
    best = max(budgets, key=lambda b: (budgets[b], b))
    return enabled, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    docs = prepare(load(args.data, "train"))
    names = vocabulary(docs)
    print(f"train: {len(docs)} abstracts, {sum(len(d['sentences']) for d in docs)} sentences, {len(names)} features")
    tau, l2, chosen = cross_validate(docs, names)
    w = fit(docs, design(docs, names), tau, l2)
    trims, max_words = choose_trims(docs, chosen)
    params = {
        "schema": tldr_model.SCHEMA,
        "fitted_on": f"SciTLDR-A train ({len(docs)} papers), benchmarks/tldr_fit.py",
        "tau": tau,
        "l2": l2,
        "trims": trims,
        "max_words": max_words,
        "weights": {n: round(float(v), 4) for n, v in zip(names, w) if round(float(v), 4) != 0},
    }
    tldr_model.check_params(params, str(args.out))  # exactly tldr_model.PARAM_KEYS, or no file
    args.out.write_text(json.dumps(params, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(params['weights'])} weights, trims {trims}, max_words {max_words}")


if __name__ == "__main__":
    main()
