"""Readable labels for groups of papers: a few distinct phrases each group's papers actually use.

Candidates are phrases as written: runs of 1-3 words with no stop word, number, LaTeX or
punctuation inside ("mutation testing", "Luttinger liquids", "large language models"), so a
label is always text a reader can find in the papers (n-grams built after dropping stop words
would invent "testing software" from "testing of software").

Each candidate is scored per group with a class-based TF-IDF (as BERTopic's c-TF-IDF, but
counting papers rather than words, so one abstract repeating a word cannot carry a label):

    score(t, g) = (g's papers using t / g's papers) x (g's papers using t / all papers using t)
                  x 2 for a phrase of 2-3 words

The second factor replaces c-TF-IDF's log(1 + A / frequency), which favours words two papers
happen to share ("face", "eases") over the phrase most of the group uses. A label phrase is used
by at least MIN_COVERAGE of the group's papers and by two of them. The best phrase gives way to
a longer one containing it when that one still covers half of its papers ("mutation" ->
"mutation testing"), or, for a phrase of several words, when it is nearly always part of it
("quantum Monte" -> "quantum Monte Carlo"). A second phrase (of several words: a lone second
word says little) is picked by maximal marginal relevance, as BERTopic's
MaximalMarginalRelevance representation, over the candidates' TF-IDF vectors across the group's
papers, and never shares a word with the first. Phrases are shown as the abstracts write them
mid-sentence ("LLMs", "Luttinger liquid", "deep learning" even where a paper says "Deep
Learning (DL)").

With a LabelContext (the digest, the weekly review and `tracker trends` all pass one):
- closeness (KeyBERT-style, as BERTopic's KeyBERTInspired representation): every group's
  candidates are embedded in one batch with the run's encoder, and a candidate's score is half
  its c-TF-IDF and half its cosine to the group's centre (CLOSENESS_WEIGHT), each relative to
  the group's best: "protein folding" over "benchmark suite" when the papers are about folding;
- background: a phrase used by a large share of everything seen (tracker.enrich.background) is
  generic and is no candidate ("neural networks", "future research").
Always: phrases are counted with inflections merged ("language model" = "language models"),
acronyms are read from their definitions ("large language models (LLMs)"), and no phrase (up to
inflection or acronym, or a phrase saying no more than one already used) appears in the labels
of two groups: the largest group chooses first. benchmarks/labels.py measures the labels.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

import numpy as np

from tracker.linalg import unit_rows

MAX_WORDS = 3
MMR_DIVERSITY = 0.6  # weight of "unlike the phrases already chosen" against the phrase's own score
MIN_RELATIVE_SCORE = 0.35  # a further phrase must score at least this share of the best one
LONGER_COVERAGE = 0.5  # a phrase replaces a single word when used by at least this share of its papers
FRAGMENT_SHARE = 0.9  # ... and a shorter phrase when it accounts for this share of the shorter one's uses
CANDIDATES = 40
MIN_COVERAGE = 0.25  # a label phrase is used by at least this share of the group's papers (and two)
CLOSENESS_WEIGHT = 0.5  # share of a candidate's score from its closeness to the theme's centre (KeyBERT)
PHRASE_BONUS = 1.0  # for a phrase of 2-3 words: "sample complexity" reads better than "sample" or "unknown"

# Words every abstract uses; they would label every group of a small day.
_BOILERPLATE = frozenset(
    """
    paper papers propose proposed proposes present presents presented approach approaches method methods
    result results study studies studied show shows shown showed using based use uses used new novel work
    works problem problems demonstrate demonstrates provide provides provided including different existing
    various recent recently however also well via within without across towards toward furthermore
    moreover therefore thus hence whereas finally first second third one two three four five several many
    important significant significantly particular particularly respectively able allows allow given
    approach introduce introduces introduced investigate investigates investigated paper's consider
    considered obtain obtained achieve achieves achieved evaluate evaluated evaluation address addresses
    way ways make makes made number large small high low better best good state art effective effectively
    efficient efficiently key main current performance extensive experiments
    experimental framework frameworks technique techniques tool tools et al
    """.split()
)
_TOKEN = re.compile(r"[^\W\d_][^\W_]*(?:[-'][^\W_]+)*")  # a word: starts with a letter; "helium-4", "GPT-4"
_MATH = re.compile(r"\$[^$]*\$|\\[a-zA-Z]+|\{[^{}]*\}")  # LaTeX is not a phrase
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")


def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _BOILERPLATE


def phrases(text: str, stop: frozenset[str]) -> list[str]:
    """Every candidate phrase of `text` (with repeats), lowercased: 1-3 word runs broken by
    anything but a space."""
    found: list[str] = []
    for run in _runs(text, stop):
        keys = [w.lower() for w, _ in run]
        for n in range(1, MAX_WORDS + 1):
            found.extend(" ".join(keys[i : i + n]) for i in range(len(keys) - n + 1))
    return found


def _runs(text: str, stop: frozenset[str]) -> list[list[tuple[str, int]]]:
    """Runs of words separated only by spaces, as (word, start offset); stop words break runs."""
    text = _MATH.sub(" . ", text)
    runs: list[list[tuple[str, int]]] = [[]]
    end = 0
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        if word.lower().endswith("'s"):
            word = word[:-2]
        gap = text[end : match.start()]
        if gap.strip() or word.lower() in stop or len(word) < 2:
            runs.append([])
        if word.lower() not in stop and len(word) >= 2:
            runs[-1].append((word, match.start()))
        end = match.end()
    return [run for run in runs if run]


@dataclass(frozen=True)
class LabelContext:
    """What labelling may use beyond the group's own text (either may be None)."""

    encoder: Any = None  # the run's encoder: embeds candidate phrases (one batch) for closeness to a theme
    background: Any = None  # tracker.enrich.background.Background: how common a phrase is everywhere


def label_phrases(
    docs: Sequence[str],
    groups: Sequence[Sequence[int]],
    n_phrases: int = 2,
    *,
    vectors: np.ndarray | None = None,
    context: LabelContext | None = None,
) -> list[tuple[str, ...]]:
    """Up to `n_phrases` distinct phrases per group (lists of indices into `docs`), best first.

    `vectors` (row i embeds docs[i]) with `context.encoder`: candidates re-ranked by closeness to
    the group's centre; `context.background`: generic phrases dropped. Groups are labelled largest
    first, and a phrase (up to inflection or acronym) labels one group only."""
    from sklearn.feature_extraction.text import CountVectorizer

    context = context or LabelContext()
    stop = stop_words()
    # phrases counted by key: "language model" and "language models" are one candidate
    vectorizer = CountVectorizer(
        analyzer=lambda doc: [phrase_key(p) for p in phrases(doc, stop)], min_df=min(2, len(docs))
    )
    try:  # sparse counts: a window of thousands of abstracts has hundreds of thousands of phrases
        counts = vectorizer.fit_transform(docs).tocsr()
    except ValueError:  # no phrase at all (only numbers and stop words)
        return [() for _ in groups]
    vocab = [str(t) for t in vectorizer.get_feature_names_out()]
    used = (counts > 0).astype(np.float64).tocsr()
    in_docs = np.asarray(used.sum(axis=0)).ravel()
    bonus = np.array([1 + PHRASE_BONUS * (" " in t) for t in vocab])
    generic = context.background.generic if context.background is not None else (lambda phrase: False)
    scores = []  # per group: c-TF-IDF of every phrase (0: too few of the group's papers use it)
    ranked = []  # per group: its best CANDIDATES phrases that are not generic
    for group in groups:
        in_group = np.asarray(used[list(group)].sum(axis=0)).ravel()
        enough = in_group >= max(min(2, len(group)), MIN_COVERAGE * len(group))
        # c-TF-IDF counting papers: coverage of the group x share of the phrase's papers in it
        scores.append(np.where(enough, in_group / max(len(group), 1) * in_group / np.maximum(in_docs, 1) * bonus, 0.0))
        best = sorted(np.flatnonzero(scores[-1] > 0), key=lambda k: (-scores[-1][k], len(vocab[k]), vocab[k]))
        kept = islice((k for k in best if not generic(vocab[k])), CANDIDATES)  # lazily: counting costs
        ranked.append([int(k) for k in kept])
    closeness = _closeness(vocab, ranked, groups, vectors, context.encoder)
    expansions = acronyms(docs)
    taken: list[frozenset[str]] = []  # what earlier (larger) groups' labels say
    labels: list[tuple[str, ...]] = [() for _ in groups]
    for g in sorted(range(len(groups)), key=lambda g: (-len(groups[g]), g)):
        members = list(groups[g])
        fresh = [not any(_same_concept(concept(vocab[k], expansions), t) for t in taken) for k in ranked[g]]
        free = [i for i, is_fresh in enumerate(fresh) if is_fresh]
        free_keys = [ranked[g][i] for i in free]
        blended = _blend(scores[g][free_keys], closeness[g][free] if closeness else None)
        scored = sorted(zip(blended, free_keys, strict=True), key=lambda sk: (-sk[0], len(vocab[sk[1]]), vocab[sk[1]]))
        keys = [k for _, k in scored]
        in_group = np.asarray(used[members][:, keys].sum(axis=0)).ravel()
        occurrences = np.asarray(counts[members][:, keys].sum(axis=0)).ravel()
        candidates = [
            Candidate(vocab[k], float(sc), int(n), int(o))
            for (sc, k), n, o in zip(scored, in_group, occurrences, strict=True)
        ]
        tfidf = used[members][:, keys].toarray() * np.log(1 + len(docs) / np.maximum(in_docs[keys], 1))
        chosen = _choose(candidates, tfidf, n_phrases, expansions)
        taken += [concept(c.phrase, expansions) for c in chosen]
        labels[g] = tuple(display_form(c.phrase, [docs[m] for m in members]) for c in chosen)
    return labels


def _closeness(
    vocab: list[str], ranked: list[list[int]], groups: Sequence[Sequence[int]], vectors: np.ndarray | None, encoder: Any
) -> list[np.ndarray] | None:
    """Per group, each candidate's cosine to the group's centre (KeyBERT), from one encoder batch
    of every group's candidates; None without an encoder or vectors."""
    if encoder is None or vectors is None or not any(ranked):
        return None
    wanted = sorted({vocab[k] for keys in ranked for k in keys})
    embedded = unit_rows(encoder.encode(wanted), np.float64)
    row = {phrase: i for i, phrase in enumerate(wanted)}
    out = []
    for group, keys in zip(groups, ranked, strict=True):
        centre = np.asarray(vectors, dtype=np.float64)[list(group)].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        out.append(np.array([embedded[row[vocab[k]]] @ centre for k in keys]))
    return out


def _blend(ctfidf: np.ndarray, closeness: np.ndarray | None) -> np.ndarray:
    """A candidate's score: its c-TF-IDF, and (when known) its closeness to the theme's centre,
    each relative to the group's best (CLOSENESS_WEIGHT of the score is closeness)."""
    if not len(ctfidf):
        return ctfidf
    relative = ctfidf / max(float(ctfidf.max()), 1e-12)
    if closeness is None:
        return relative
    close = np.clip(closeness, 0.0, None) / max(float(closeness.max()), 1e-12)
    return (1 - CLOSENESS_WEIGHT) * relative + CLOSENESS_WEIGHT * close


@dataclass(frozen=True)
class Candidate:
    phrase: str
    score: float
    papers: int  # papers of the group using it
    uses: int  # times the group's papers use it


def _choose(
    candidates: list[Candidate], vectors: np.ndarray, n_phrases: int, expansions: dict[str, str]
) -> list[Candidate]:
    """The best phrase (made longer where that loses little), then further ones by MMR."""
    if not candidates:
        return []
    chosen = [_longer(candidates[0], candidates)]
    top = chosen[0].score or candidates[0].score
    index = {c.phrase: k for k, c in enumerate(candidates)}
    norms = np.linalg.norm(vectors, axis=0)
    while len(chosen) < n_phrases:
        options = [
            k
            for k, c in enumerate(candidates)
            if c not in chosen
            and c.score >= MIN_RELATIVE_SCORE * top
            and " " in c.phrase  # a lone second word ("sample", "factors") says little
            and not any(
                _overlaps(c.phrase, d.phrase)
                or _same_concept(concept(c.phrase, expansions), concept(d.phrase, expansions))
                for d in chosen
            )
        ]
        if not options:
            break

        def mmr(k: int) -> float:
            similar = max(
                _cosine(vectors[:, k], vectors[:, index[d.phrase]], norms[k], norms[index[d.phrase]]) for d in chosen
            )
            return (1 - MMR_DIVERSITY) * candidates[k].score / top - MMR_DIVERSITY * similar

        pick = max(options, key=lambda k: (mmr(k), -len(candidates[k].phrase), _neg(candidates[k].phrase)))
        chosen.append(_longer(candidates[pick], candidates, avoid=[d.phrase for d in chosen]))
    return chosen


def _longer(short: Candidate, candidates: list[Candidate], avoid: Sequence[str] = ()) -> Candidate:
    """The phrase to show for `short`: a single word gives way to the longest phrase containing it
    used by LONGER_COVERAGE of its papers ("mutation" -> "mutation testing"); a phrase of several
    words only to one it is nearly always part of ("quantum Monte" -> "quantum Monte Carlo", but
    "flaky tests" stays, though every paper also says "flaky tests break")."""
    best = short
    for other in candidates:
        if (
            len(other.phrase.split()) <= len(best.phrase.split())
            or not _contains(other.phrase, short.phrase)
            or any(_overlaps(other.phrase, a) for a in avoid)
        ):
            continue
        if " " in short.phrase:
            if other.uses >= FRAGMENT_SHARE * short.uses:
                best = other
        elif other.papers >= LONGER_COVERAGE * short.papers:
            best = other
    return best


def _contains(longer: str, shorter: str) -> bool:
    return f" {shorter} " in f" {longer} "


def _cosine(a: np.ndarray, b: np.ndarray, na: float, nb: float) -> float:
    return float(a @ b / (na * nb)) if na and nb else 0.0


def _neg(text: str) -> tuple[int, ...]:
    """Sort key making alphabetical order win ties inside max()."""
    return tuple(-ord(c) for c in text)


def _overlaps(a: str, b: str) -> bool:
    """True when two phrases share a word up to a plural/verb ending ("model" ~ "language models")."""
    return bool({_stem(w) for w in a.split()} & {_stem(w) for w in b.split()})


def _stem(word: str) -> str:
    for suffix in ("ing", "ies", "es", "s", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def phrase_key(phrase: str) -> str:
    """`phrase` with inflections merged: "Language Models" -> "language model", "LLMs" -> "llm"."""
    return " ".join(_singular(w) for w in phrase.lower().split())


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 2 and word.endswith("s") and not word.endswith(("ss", "us", "is", "as")):
        return word[:-1]
    return word


_DEFINITION = re.compile(r"((?:[^\W\d_][\w-]*\s+){1,6})\(\s*([A-Z][A-Za-z0-9-]*?[A-Z0-9])s?\s*\)")


def acronyms(docs: Sequence[str]) -> dict[str, str]:
    """{acronym: what it stands for}, as phrase keys, from definitions in `docs` such as
    "large language models (LLMs)" or "vision-language models (VLMs)"."""
    found: dict[str, str] = {}
    for doc in docs:
        for match in _DEFINITION.finditer(doc):
            letters = [c.lower() for c in match.group(2) if c.isupper()]
            parts = [part for word in match.group(1).split() for part in word.split("-") if part]
            if (
                len(letters) >= 2
                and len(parts) >= len(letters)
                and [w[0].lower() for w in parts[-len(letters) :]] == letters
            ):
                found.setdefault(phrase_key(match.group(2)), phrase_key(" ".join(parts[-len(letters) :])))
    return found


def concept(phrase: str, expansions: dict[str, str]) -> frozenset[str]:
    """The words `phrase` stands for: inflections merged, acronyms spelt out, hyphens split
    ("LLMs" and "large language models" -> {large, language, model})."""
    words = [expansions.get(w, w) for w in phrase_key(phrase).split()]
    return frozenset(part for w in words for part in re.split(r"[\s-]+", w) if part)


def _same_concept(a: frozenset[str], b: frozenset[str]) -> bool:
    """One phrase says no more than the other ("language model" within "large language models")."""
    return bool(a) and bool(b) and (a <= b or b <= a)


def display_form(phrase: str, docs: Sequence[str]) -> str:
    """`phrase` as the papers write it in running text (not at a sentence start or in a title),
    in lowercase wherever some paper writes it so ("deep learning", but "Luttinger liquid",
    "LLMs", "quantum Monte Carlo"); failing that, lowercase words except those capitalised
    inside (acronyms, "GPT-4", "DeepXplore"). Inflections count as the phrase ("LLMs" for "llm")."""
    pattern = re.compile(r"(?<![\w-])" + r"\s+".join(map(_inflected, phrase.split())) + r"(?![\w-])", re.IGNORECASE)
    running: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for doc in docs:
        title, _, abstract = doc.partition("\n")
        for part, is_abstract in ((title, False), (abstract, True)):
            for match in pattern.finditer(part):
                form = " ".join(match.group(0).split())
                anywhere[form] += 1
                if is_abstract and match.start() > 0 and not _SENTENCE_END.search(part[: match.start()]):
                    running[form] += 1
    if running:  # capitals mid-sentence that are not always there are emphasis ("Deep Learning (DL)")
        return min(running, key=lambda form: (-sum(w == w.lower() for w in form.split()), -running[form], form))
    if anywhere:
        form = min(anywhere, key=lambda f: (-anywhere[f], f))
        return " ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in form.split())
    return phrase


def _inflected(word: str) -> str:
    """A pattern for `word` and its plural ("policy" -> policy|policies, "model" -> model|models)."""
    if word.endswith("y") and len(word) > 3:
        return re.escape(word[:-1]) + "(?:y|ies)"
    return re.escape(word) + "(?:s|es)?"


def heading(label_phrases: Sequence[str]) -> str:
    """The theme's heading: its phrases joined, the first letter capitalised ("Mutation testing, LLMs")."""
    text = ", ".join(label_phrases)
    first = label_phrases[0].split()[0] if text else ""
    return text[:1].upper() + text[1:] if first[:1].isalpha() and first == first.lower() else text
