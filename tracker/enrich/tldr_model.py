"""An extractive TL;DR: the abstract's contribution sentence, trimmed to what a reader needs.

Two steps, both fitted on SciTLDR's training split by benchmarks/tldr_fit.py (weights in
tldr_weights.json, shipped with the package; nothing is fitted at run time):
1. pick: every sentence gets named features (position, length, overlap with the title and with
   the rest of the abstract, its words and opening words); a linear model, fitted as a softmax
   over each abstract's sentences toward the one closest to the authors' own TL;DR, scores
   them and the best is kept;
2. trim: an ordered list of edits (drop "In this paper," and other lead-ins, URLs, trailing
   clauses past a word budget, ...), each kept by the fit only if it raised ROUGE on train.
Pure and deterministic: no network, no model load, a few milliseconds per paper.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections import Counter
from importlib import resources

from tracker.enrich.sentences import split_sentences
from tracker.errors import TrackerError
from tracker.text import clean_line

WEIGHTS_FILE = "tldr_weights.json"
SCHEMA = 1
PARAM_KEYS = frozenset({"schema", "fitted_on", "tau", "l2", "trims", "max_words", "weights"})
MAX_INPUT_CHARS = 6000  # arXiv caps abstracts at 1,920 characters; beyond this is not an abstract
MAX_SENTENCES = 40
HARD_MAX_WORDS = 60  # whatever the weights say, a TL;DR is never longer than this
HARD_MAX_CHARS = 400  # nor wider (one 6,000-character "word" is still one word)

_TOKEN = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    """a an the of for in on to and or with by from as at is are be been was were this that these
    those we our us it its their which can via into using based than then also such not""".split()
)


# The openings of a contribution statement (SciTLDR's "we propose" baseline, widened).
CONTRIBUTION_CUE = re.compile(
    r"\b(?:we (?:propose|present|introduce|develop|show|describe|design|provide|study|investigate)"
    r"|this (?:paper|work)|in this (?:paper|work)|here,? we)\b",
    re.IGNORECASE,
)


def tokens(text: str) -> list[str]:
    """Lower-case alphanumeric words: the tokens ROUGE counts (rouge-score's tokenizer, no stemming)."""
    return _TOKEN.findall(text.lower())


def _content(words: list[str]) -> set[str]:
    return {w for w in words if w not in STOPWORDS and len(w) > 1}


def _f1(words: list[str], reference: list[str]) -> float:
    """Unigram overlap F1 (ROUGE-1 without the library)."""
    if not words or not reference:
        return 0.0
    common = sum((Counter(words) & Counter(reference)).values())
    return 2 * common / (len(words) + len(reference))


def _length_bin(n: int) -> str:
    for limit in (8, 15, 25, 35, 50):
        if n < limit:
            return f"len<{limit}"
    return "len>=50"


def sentence_features(title: str, sentences: list[str]) -> list[dict[str, float]]:
    """One sparse feature vector (name -> value) per sentence; the weights file names the useful ones."""
    title_all = tokens(title)
    title_words = _content(title_all)
    sentence_words = [tokens(s) for s in sentences]
    content = [_content(words) for words in sentence_words]
    n = len(sentences)
    recall = [len(c & title_words) / len(title_words) if title_words else 0.0 for c in content]
    cues = [i for i, s in enumerate(sentences) if CONTRIBUTION_CUE.search(s)]
    in_sentences = Counter(w for c in content for w in c)  # in how many sentences each word is
    out = []
    for i, words in enumerate(sentence_words):
        mine = content[i]
        shared = sum(1 for w in mine if in_sentences[w] > 1)  # words the rest of the abstract repeats
        features = {
            f"pos={min(i, 5)}": 1.0,
            "rel_pos": i / (n - 1) if n > 1 else 0.0,
            "last": 1.0 if i == n - 1 and n > 1 else 0.0,
            _length_bin(len(words)): 1.0,
            "title_recall": recall[i],
            "title_recall_is_max": 1.0 if recall[i] > 0 and recall[i] == max(recall) else 0.0,
            "title_precision": len(mine & title_words) / len(mine) if mine else 0.0,
            "centrality": shared / len(mine) if mine else 0.0,
            # Where the sentence stands among the abstract's "we propose..." sentences.
            f"cue_rank={min(cues.index(i), 2)}" if i in cues else "no_cue": 1.0,
            f"pos={min(i, 3)}&cue={i in cues}": 1.0,
            "title_f1": _f1(words, title_all),
            "words/30": len(words) / 30,
            "before_first_cue": 1.0 if cues and i < cues[0] else 0.0,
            "has_digit": 1.0 if any(w.isdigit() for w in words) else 0.0,
            "has_math": 1.0 if "$" in sentences[i] or "\\" in sentences[i] else 0.0,
            "has_url": 1.0 if "http" in sentences[i] or "www." in sentences[i] else 0.0,
        }
        for k, w in enumerate(words[:3]):
            features[f"lead{k}:{w}"] = 1.0
        if i > 0 and sentence_words[i - 1]:
            features[f"prev_lead0:{sentence_words[i - 1][0]}"] = 1.0
        if len(words) >= 2:
            features[f"lead:{words[0]}_{words[1]}"] = 1.0
        for w in set(words):
            features[f"w:{w}"] = 1.0
        for a, b in set(itertools.pairwise(words)):
            features[f"b:{a}_{b}"] = 1.0
        out.append(features)
    return out


def score(features: dict[str, float], weights: dict[str, float]) -> float:
    return math.fsum(value * weights.get(name, 0.0) for name, value in features.items())


# ---- trimming: each edit takes a sentence and returns it shorter (or unchanged) ----

_LEAD_CONNECTIVE = re.compile(
    r"^(?:however|moreover|furthermore|additionally|in addition|finally|specifically|in particular|"
    r"therefore|thus|hence|consequently|as a result|overall|instead|first(?:ly)?|second(?:ly)?|"
    r"third(?:ly)?|lastly|further|notably|importantly|concretely|in summary|in short|"
    r"to this end|in this regard|to do so|to that end|in contrast|here|empirically|"
    r"experimentally|theoretically|in practice|to our knowledge|to the best of our knowledge),\s+",
    re.IGNORECASE,
)
_IN_THIS_PAPER = re.compile(
    r"^(?:here|in this (?:[a-z-]+ )?(?:paper|work|study|article|note|letter|report|manuscript|thesis|submission)"
    r"|in the present (?:paper|work|study)|this (?:paper|work|study))(?:,\s*|\s+(?=we\b))",
    re.IGNORECASE,
)
_PURPOSE_CLAUSE = re.compile(
    r"^(?:to (?:address|tackle|solve|overcome|alleviate|remedy|fill|bridge|mitigate|resolve|handle|"
    r"fix|circumvent|avoid)|motivated by|inspired by|based on|building (?:on|upon)|"
    r"towards?|with this|given)\b[^,]{0,80},\s+(?=we\b|our\b|this\b)",
    re.IGNORECASE,
)
_CLAUSE_BEFORE_WE = re.compile(r"^[^,;]{3,150}?,\s+(?=(?:we|our)\b)", re.IGNORECASE)
_SHORT_LEAD = re.compile(r"^(?:[A-Za-z-]+\s){0,2}[A-Za-z-]+,\s+(?=[a-z])", re.IGNORECASE)
_REPORTING_VERB = re.compile(
    r"^(?:we|our (?:experiments|results|analysis|evaluation|findings)|(?:extensive |experimental |empirical "
    r"|numerical )?(?:experiments|results|evaluations?|simulations))(?: (?:also|further|empirically|"
    r"theoretically|experimentally))? (?:show|find|demonstrate|prove|observe|argue|establish|confirm|reveal"
    r"|suggest|indicate)s? that\s+",
    re.IGNORECASE,
)
_PAPER_VERB = (
    r"(propose|present|introduce|develop|describe|stud(?:y|ie)|investigate|show|provide|consider"
    r"|address|explore|analyze|analyse|demonstrate)e?s\b"
)
_THIS_PAPER_VERB = re.compile(  # "This paper proposes and demonstrates" -> "We propose and demonstrate"
    r"^(?:this|the present|our) (?:paper|work|study|article|note|letter|report|manuscript) "
    rf"{_PAPER_VERB}(?: and {_PAPER_VERB})?",
    re.IGNORECASE,
)
_WE_VERB = re.compile(
    r"^we (?:propose|present|introduce|develop|describe|design|devise|offer|provide|put forward)"
    r"(?: (?:a|an|the) (?:novel|new|simple|general|unified|principled)?)?\s*",
    re.IGNORECASE,
)
_URL = re.compile(r"\s*[(\[]?(?:https?://|www\.)\S+[)\]]?")
_AVAILABLE_TAIL = re.compile(
    r"[,;]?\s*(?:and\s+)?(?:our\s+|the\s+|all\s+)?(?:source\s+)?(?:code|implementation|data(?:set)?s?|models?)"
    r"(?:\s+\w+){0,4}\s+(?:is|are|will be|has been|have been)\s+(?:publicly\s+|made\s+|freely\s+|available|released)"
    r".*$",
    re.IGNORECASE,
)
# An aside set off by a space, "X (Y)"; never a call or formula such as O(sqrt(T)) or f(x).
_PARENTHETICAL = re.compile(r"\s+\([^()]{0,200}\)(?!\w)")
_TRAILING_CLAUSE = re.compile(
    r"(?:,\s*(?:which|where|while|whereas|thereby|thus|allowing|enabling|leading|resulting|"
    r"making|such that|so that|as well as|and (?:we|show|demonstrate|achieve))\b|;\s).*$",
    re.IGNORECASE,
)


def _this_paper_to_we(sentence: str) -> str:
    def swap(match: re.Match) -> str:
        verbs = [v.lower() for v in match.groups() if v]
        return "We " + " and ".join("study" if v == "studie" else v for v in verbs)

    return _THIS_PAPER_VERB.sub(swap, sentence, count=1)


TRIMS = {
    "lead_connective": lambda s: _LEAD_CONNECTIVE.sub("", s, count=1),
    "in_this_paper": lambda s: _IN_THIS_PAPER.sub("", s, count=1),
    "purpose_clause": lambda s: _PURPOSE_CLAUSE.sub("", s, count=1),
    "clause_before_we": lambda s: _CLAUSE_BEFORE_WE.sub("", s, count=1),
    "short_lead": lambda s: _SHORT_LEAD.sub("", s, count=1),
    "reporting_verb": lambda s: _REPORTING_VERB.sub("", s, count=1),
    "this_paper_to_we": _this_paper_to_we,
    "drop_we_propose": lambda s: _WE_VERB.sub("", s, count=1),
    "available_tail": lambda s: _AVAILABLE_TAIL.sub("", s),
    "urls": lambda s: _URL.sub("", s),
    "parentheticals": lambda s: _PARENTHETICAL.sub("", s),
}


def cut_to_words(sentence: str, max_words: int) -> str:
    """At most `max_words` words: first drop a trailing clause, then cut at the last comma, then hard."""
    words = sentence.split()
    if len(words) <= max_words:
        return sentence
    shorter = _TRAILING_CLAUSE.sub("", sentence)
    if shorter and len(shorter.split()) <= max_words and len(shorter.split()) >= max_words // 3:
        return shorter
    head = " ".join(words[:max_words])
    comma = head.rfind(",")
    if comma > len(head) // 2:
        return head[:comma]
    return head + "…"  # cut mid-sentence: say so


def cut_to_chars(sentence: str, max_chars: int = HARD_MAX_CHARS) -> str:
    if len(sentence) <= max_chars:
        return sentence
    head = sentence[:max_chars]
    space = head.rfind(" ")
    return (head[:space] if space > max_chars // 2 else head) + "…"


# A structured abstract's section label ("Context: ...", "Results: ..."): never part of a TL;DR.
# Not learned: SciTLDR has no structured abstracts, arXiv has many (software engineering, medicine).
_SECTION_LABEL = re.compile(
    r"^(?:background|context|objectives?|aims?|purpose|goals?|motivation|problem|methods?|approach"
    r"|results?|findings|conclusions?|contributions?|significance|design)\s*:\s+(?=\S)",
    re.IGNORECASE,
)


def _tidy(sentence: str) -> str:
    sentence = _SECTION_LABEL.sub("", sentence, count=1)
    sentence = sentence.strip(" ,;:-") or sentence.strip()  # "-" alone stays "-", not ""
    if sentence[:1].islower():
        sentence = sentence[0].upper() + sentence[1:]
    if sentence and sentence[-1] not in ".!?…":
        sentence = sentence.rstrip(".,;: ") + "."
    return sentence


def trim(sentence: str, trims: list[str], max_words: int) -> str:
    """`sentence` after the enabled edits, in the order the fit chose; never empty if it was not."""
    for name in trims:
        edited = TRIMS[name](sentence).strip()
        if len(tokens(edited)) >= 3:  # an edit that leaves almost nothing is not taken
            sentence = edited
    return _tidy(cut_to_chars(cut_to_words(sentence, min(max_words, HARD_MAX_WORDS))))


def check_params(params: object, where: str) -> dict:
    """`params` if it has the shape benchmarks/tldr_fit.py writes; else one line naming the problem."""
    if not isinstance(params, dict) or params.get("schema") != SCHEMA:
        found = params.get("schema") if isinstance(params, dict) else type(params).__name__
        raise TrackerError(f"{where}: schema {found!r}, expected {SCHEMA}; rerun benchmarks/tldr_fit.py")
    if set(params) != PARAM_KEYS or not set(params["trims"]) <= set(TRIMS):
        raise TrackerError(
            f"{where}: keys {sorted(params)} or trims {params.get('trims')} unknown; rerun benchmarks/tldr_fit.py"
        )
    return params


@functools.lru_cache(maxsize=1)
def load_weights() -> dict:
    """The fitted parameters shipped with the package (see benchmarks/tldr_fit.py)."""
    text = resources.files("tracker.enrich").joinpath(WEIGHTS_FILE).read_text(encoding="utf-8")
    return check_params(json.loads(text), WEIGHTS_FILE)


def abstract_sentences(abstract: str) -> list[str]:
    """The abstract's sentences, from raw production text (control characters, line breaks, any length)."""
    text = clean_line(abstract[:MAX_INPUT_CHARS])
    return split_sentences(text)[:MAX_SENTENCES]


def pick_sentence(title: str, sentences: list[str], weights: dict[str, float]) -> str:
    """The highest-scoring sentence; ties go to the earlier one."""
    scored = [score(f, weights) for f in sentence_features(title, sentences)]
    return sentences[max(range(len(sentences)), key=lambda i: (scored[i], -i))]


def extractive_tldr(title: str, abstract: str) -> str:
    """One plain-text sentence saying what the paper does; "" when the abstract has no text."""
    sentences = abstract_sentences(abstract or "")
    if not sentences:
        return ""
    params = load_weights()
    best = pick_sentence(clean_line(title or ""), sentences, params["weights"])
    return trim(best, params["trims"], params["max_words"])
