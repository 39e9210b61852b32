"""Do the themes' labels name what their papers are about, with no cliché and no repeat?

    python benchmarks/labels.py                # the figures
    python benchmarks/labels.py --background   # (re)write tracker/enrich/background_phrases.json

Days of real abstracts (SciTLDR, benchmarks/scitldr.py): each day holds 6 subjects of
benchmarks/data/label_subjects.json, 8-14 papers each, and 10 papers of no subject. The subjects
and the names a reader would accept for each were written by reading titles before any method
ran. Themes: tracker.enrich.cluster.cluster_themes on the real encoder's vectors; every method
labels the same themes. Per day:
- named: themes whose label has a phrase matching the accepted names of the theme's majority
  subject, of the themes that have one (target: 5 of 6 or better);
- generic: labels holding a phrase used by GENERIC_SHARE or more of the background (all SciTLDR
  papers and the recorded arXiv responses: the "ledger") (target 0);
- repeated heads: themes whose first phrase says no more than another theme's (target 0).
Methods: shipped (encoder re-ranking + background, tracker.enrich.cluster.label_themes);
c-TF-IDF (the same code with no encoder and no background); before (labels.py as of 6067cff,
the method before issue 22, read from git). CLOSENESS_WEIGHT and GENERIC_SHARE were chosen on
TUNE_DAYS; REPORT_DAYS are reported apart.
"""
from __future__ import annotations

import importlib.util
import json
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.scitldr import load_scitldr, scitldr_vectors  # noqa: E402
from benchmarks.themes import load_corpus  # noqa: E402
from tracker.enrich import background as bg  # noqa: E402
from tracker.enrich.cluster import OTHER, cluster_themes, text  # noqa: E402
from tracker.enrich.labels import LabelContext, acronyms, concept, phrase_key, phrases, stop_words  # noqa: E402

SUBJECTS = ROOT / "benchmarks" / "data" / "label_subjects.json"
TUNE_DAYS, REPORT_DAYS = range(0, 3), range(10, 13)
BEFORE = "6067cff"


def subjects_of(papers) -> tuple[dict[str, dict], dict[int, str]]:
    """The subjects, and {row: subject} for papers whose title matches exactly one subject."""
    subjects = json.loads(SUBJECTS.read_text(encoding="utf-8"))["subjects"]
    rows = {}
    for row, paper in enumerate(papers):
        hits = [name for name, s in subjects.items() if re.search(s["title"], paper.title, re.IGNORECASE)]
        if len(hits) == 1:
            rows[row] = hits[0]
    return subjects, rows


def make_day(seed: int, subject_rows: dict[int, str], n_papers: int) -> list[int]:
    rng = random.Random(seed)
    by_subject: dict[str, list[int]] = {}
    for row, name in sorted(subject_rows.items()):
        by_subject.setdefault(name, []).append(row)
    rows = []
    for name in rng.sample(sorted(by_subject), 6):
        rows += rng.sample(by_subject[name], min(len(by_subject[name]), rng.randint(8, 14)))
    rows += rng.sample([r for r in range(n_papers) if r not in subject_rows], 10)
    return rows


def old_labeller():
    """label_phrases and heading of tracker/enrich/labels.py as of BEFORE (None without git)."""
    try:
        source = subprocess.run(["git", "show", f"{BEFORE}:tracker/enrich/labels.py"], cwd=ROOT, check=True,
                                capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    path = Path(tempfile.mkdtemp()) / "labels_before.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("labels_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["labels_before"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def score_day(themes, day_papers, subject_of: dict[str, str], subjects, background) -> dict:
    """named / with a majority subject, generic labels, repeated heads, and the labels themselves."""
    named = majority = generic = 0
    heads, shown = [], []
    expansions = acronyms([text(p) for p in day_papers])
    for title, terms, ids in themes:
        names = [subject_of.get(pid) for pid in ids]
        top = max(set(names), key=names.count)
        ok = None
        if top is not None and names.count(top) > len(names) / 2:
            majority += 1
            ok = any(re.search(subjects[top]["names"], t, re.IGNORECASE) for t in terms)
            named += ok
        generic += any(background.generic(t) for t in terms)
        heads.append(concept(terms[0], expansions) if terms else frozenset())
        shown.append(f"{'+' if ok else '-' if ok is False else '?'} {title} [{top}, {len(ids)}]")
    repeated = sum(any(h and o and (h <= o or o <= h) for j, o in enumerate(heads) if j != i) for i, h in enumerate(heads))
    return {"named": named, "majority": majority, "generic": generic, "repeated": repeated, "themes": len(themes),
            "shown": shown}


def run(days, papers, vectors, subjects, subject_rows, encoder, background, before):
    results: dict[str, list[dict]] = {"shipped": [], "c-TF-IDF": [], "before": []}
    subject_of = {papers[r].id: name for r, name in subject_rows.items()}
    for seed in days:
        rows = make_day(seed, subject_rows, len(papers))
        day, vecs = [papers[r] for r in rows], vectors[rows]
        for method, context in (("shipped", LabelContext(encoder, background)), ("c-TF-IDF", None)):
            themes = [(t.label, t.terms, t.paper_ids) for t in cluster_themes(day, vecs, context=context) if t.label != OTHER]
            results[method].append(score_day(themes, day, subject_of, subjects, background))
        if before is not None:  # the same themes, labelled as before
            by_id = {p.id: (p, v) for p, v in zip(day, vecs)}
            docs = [text(p) for p in day]
            index = {p.id: i for i, p in enumerate(day)}
            groups = [[index[pid] for pid in ids] for _, _, ids in themes]
            old = [(before.heading(t), t, ids) for t, (_, _, ids) in zip(before.label_phrases(docs, groups), themes)]
            results["before"].append(score_day(old, [by_id[i][0] for i in index], subject_of, subjects, background))
    return results


def print_results(results, title: str) -> None:
    print(title)
    for method, days in results.items():
        if not days:
            continue
        cells = "  ".join(f"{d['named']}/{d['majority']}" for d in days)
        print(f"  {method:<9} named {cells}   generic {sum(d['generic'] for d in days)}/{sum(d['themes'] for d in days)}"
              f"   repeated heads {sum(d['repeated'] for d in days)}")
    for k, day in enumerate(results["shipped"]):
        print(f"  day {k}: shipped | before")
        before = results["before"][k]["shown"] if results["before"] else []
        for a, b in zip(day["shown"], before + [""] * len(day["shown"])):
            print(f"    {a:<70} | {b}")


def write_background(texts: list[str]) -> None:
    """The shipped table: phrase keys used by at least 1% of `texts`, with their paper counts."""
    stop = stop_words()
    counts: dict[str, int] = {}
    for t in texts:
        for key in {phrase_key(p) for p in phrases(t, stop)}:
            counts[key] = counts.get(key, 0) + 1
    keep = {k: n for k, n in sorted(counts.items()) if n >= 0.01 * len(texts)}
    bg.SHIPPED.write_text(json.dumps({"about": "phrase keys used by >= 1% of the recorded arXiv responses and "
                                      "SciTLDR (benchmarks/labels.py --background)", "docs": len(texts),
                                      "counts": keep}, indent=0, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {bg.SHIPPED.relative_to(ROOT)}: {len(keep)} phrases over {len(texts)} papers")


def main() -> None:
    papers = load_scitldr()
    recorded, _, _ = load_corpus()
    texts = [text(p) for p in papers + recorded]
    if "--background" in sys.argv[1:]:
        return write_background(texts)
    from tracker.enrich.encoders import load_encoder

    vectors = scitldr_vectors(papers)
    subjects, subject_rows = subjects_of(papers)
    background = bg.Background(texts, shipped=(0, {}))  # the ledger: everything, so no shipped table on top
    encoder, before = load_encoder(), old_labeller()
    print(f"{len(papers)} SciTLDR papers, {len(subject_rows)} in one of {len(subjects)} subjects; "
          f"background {background.docs} papers; generic from {bg.GENERIC_SHARE:.0%}")
    for days, title in ((TUNE_DAYS, "tuning days"), (REPORT_DAYS, "report days")):
        print_results(run(days, papers, vectors, subjects, subject_rows, encoder, background, before), title)


if __name__ == "__main__":
    main()
