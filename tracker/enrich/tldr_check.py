"""Is an LLM's answer an acceptable TL;DR? One plain sentence about this paper, or the reason it is not.

The answer is hostile text: the model may have followed instructions hidden in an abstract, or
may answer with Markdown, HTML, links, @mentions, several lines or a refusal. Whatever the prompt
says, this check decides what lands in the ledger. Pure functions, no I/O.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WORDS = 40
MAX_CHARS = 400  # 40 words of ordinary length; a 5,000-character "word" is not a sentence

_LINK = re.compile(
    r"(?i)\b[a-z][a-z0-9+.\-]*://|\bwww\.|\b(?:mailto|javascript|data|file):"
    r"|[\w.+\-]+@[\w\-]+\.[a-z]{2,}"  # an e-mail address (GitHub links it)
    # Any name.tld: chat apps and mail clients link every real TLD (.zip, .mov...), a list of some would not do.
    r"|\b[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9\-]+)*\.[a-z]{2,63}\b"
    # A link in disguise for a human to follow: example[.]com, example(.)com, example dot com, hxxp://.
    r"|\b[a-z0-9\-]+\s*[\[({<]\s*(?:\.|dot)\s*[\])}>]\s*[a-z]{2,}"
    r"|\b[a-z0-9\-]+\s+dot\s+(?:com|org|net|edu|gov|io|ai|dev|app|xyz|ly|me|co|info|zip|link|top|uk|de|ru|cn)\b"
    r"|\bh[x*]{2}ps?\b|\bslash\s+slash\b"
)
# What the checks read: compatibility forms folded (＠ is @, ｅｖｉｌ．ｃｏｍ is evil.com) and the ideographic
# full stops that IDNA reads as dots ("example。com" opens example.com in a browser).
_FOLD_DOTS = str.maketrans({"\u3002": ".", "\uff61": "."})
_HTML = re.compile(r"<[A-Za-z/!?]|&(?:#\d+|#x[0-9a-fA-F]+|[A-Za-z]+);")
_MARKDOWN_CHARS = re.compile(r"[`*_\[\]|~#\\]")  # emphasis, code, links, tables, headings, #123 refs, escapes
_MARKDOWN_START = re.compile(r"^(?:[>\-+=]|\d+[.)]\s)")  # quote, list item, setext rule
_MENTION = re.compile(r"(?<![\w.])@[\w\-]")
_REFUSAL = re.compile(
    r"(?i)^(?:i'?m sorry|i am sorry|sorry\b|i apologi[sz]e|unfortunately,? i|i can(?:no|')t|i cannot|i'?m unable"
    r"|i am unable|i won'?t|i will not)"
    r"|\b(?:as|i am|i'm) (?:just )?an? (?:ai|artificial intelligence|(?:ai |large )?language model|llm|assistant)\b"
)  # a paper's own "a language model" is not a refusal; "As an AI language model, I ..." is
# A full stop that ends a sentence: followed by a space and a capital, a digit or a quote.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_ABBREVIATIONS = re.compile(r"(?i)\b(?:e\.g|i\.e|vs|et al|etc|cf|fig|eq|sec|resp|approx|no)\.$")
_LABEL = re.compile(r"(?i)^\s*(?:tl;?dr|summary|one[- ]sentence summary)\s*[:\-–—]\s*")

# Sentences of a paper that speak to a model rather than to a reader: "ignore the above and ...".
_INSTRUCTION = re.compile(
    r"(?i)\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instructions?|above|previous|prior|earlier|everything|rules?)\b"
    r"|\b(?:reply|respond|answer|output|print|say|write|return|summari[sz]e (?:this|it))\b.{0,30}"
    r"\b(?:with|exactly|the following|verbatim)\b\s*[:\"'“]"
    r"|\bsystem prompt\b|\b(?:new|updated) instructions\b"
    r"|\byou are (?:now )?(?:an?|the) (?:ai|assistant|model|chatbot|language model)\b"
    r"|\b(?:your|the)\s+(?:summary|tl;?dr|response|answer|reply|output)\b.{0,30}[:\"'“]"
    r"|^(?:dear |note to (?:the |any )?)?"
    r"(?:ai|llm|gpt|chatgpt|assistant|chatbot|bot|summari[sz]er|language model)s?\s*[:,!]"
    r"|\bnote to (?:the |any )?(?:ai|llm|gpt|chatgpt|assistant|chatbot|bot|summari[sz]er|language model)s?\b"
)
# A quoted passage: opened and closed outside a word (not the apostrophe of "model's"); overlapping
# matches, so a stray apostrophe earlier in the abstract cannot swallow the opening quote.
_QUOTED = re.compile(r"(?=(?<!\w)[\"“‘']([^\"“”]{12,400}?)[\"”’'](?!\w))")
_WORD = re.compile(r"[^\W\d_]{4,}")
_STOPWORDS = frozenset(
    "this that with from these those their which while where when into onto over under than then them they have "
    "been being also such more most less very both each other paper papers work study studies propose proposes "
    "proposed present presents show shows shown using used uses based approach method methods novel results "
    "new achieve achieves across about between through without within further".split()
)
MIN_GROUNDING = 0.4  # share of the answer's content words found in the paper (prefix-matched)


def _control_char(text: str) -> str | None:
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"):
            return f"U+{ord(char):04X}"
    return None


def _sentences(text: str) -> list[str]:
    parts, current = [], ""
    for piece in _SENTENCE_END.split(text):
        current = f"{current} {piece}".strip() if current else piece
        if not _ABBREVIATIONS.search(current):
            parts.append(current)
            current = ""
    return parts + ([current] if current else [])


def _stems(text: str) -> set[str]:
    """Content words cut to five letters: "models" and "modelling" meet at "model"."""
    return {w.lower()[:5] for w in _WORD.findall(text) if w.lower() not in _STOPWORDS}


def split_instructions(text: str) -> tuple[list[str], list[str]]:
    """The sentences of a title or abstract: (those addressing a model, i.e. an injection; the rest)."""
    injected: list[str] = []
    own: list[str] = []
    for sentence in _sentences(" ".join(text.split())):
        (injected if _INSTRUCTION.search(sentence) else own).append(sentence)
    return injected, own


def without_instructions(text: str) -> str:
    """`text` less its sentences that address a model: what the endpoint is sent."""
    injected, own = split_instructions(text)
    return " ".join(own) if injected else text


def plain_answer(answer: str) -> str:
    """The answer less the surrounding blanks and quotes and a leading "TL;DR:" label."""
    text = _LABEL.sub("", answer.strip()).strip()
    if len(text) >= 2 and text[0] + text[-1] in ('""', "''", "“”", "‘’"):
        text = text[1:-1].strip()
    return text


def form_problem(text: str) -> str | None:
    """Why `text` is not one plain sentence of at most MAX_WORDS words (None: it is)."""
    if not text:
        return "empty answer"
    control = _control_char(text)
    if control:
        return f"line break or control character {control}"
    folded = unicodedata.normalize("NFKC", text).translate(_FOLD_DOTS)
    checks = (
        (_REFUSAL, "a refusal"),
        (_LINK, "a link"),
        (_HTML, "HTML"),
        (_MENTION, "an @mention"),
        (_MARKDOWN_CHARS, "Markdown syntax"),
        (_MARKDOWN_START, "Markdown syntax"),
    )
    for pattern, name in checks:
        if pattern.search(folded):
            return name
    words = len(text.split())
    if words > MAX_WORDS or len(text) > MAX_CHARS:
        return f"too long ({words} words, {len(text)} characters; at most {MAX_WORDS} words)"
    if len(_sentences(text)) > 1:
        return f"{len(_sentences(text))} sentences, not one"
    return None


def grounding_problem(text: str, title: str, abstract: str) -> str | None:
    """Why `text` is not about this paper: it echoes instructions hidden in the paper, or shares
    too few words with the paper's own text (None: it is grounded)."""
    paper = f"{title}. {abstract}"
    words = _stems(text)
    if not words:
        return None  # nothing to compare (a very short answer); the form check has passed it
    injected, rest = split_instructions(paper)
    own = _stems(" ".join(rest))
    echoed = (words & _stems(" ".join(injected))) - own
    if echoed or _copies_a_quote(text, paper):
        return "repeats instructions found in the paper's text"
    share = len(words & own) / len(words)
    if share < MIN_GROUNDING:
        return f"not about this paper (only {share:.0%} of its words are the paper's)"
    return None


def _copies_a_quote(text: str, paper: str) -> bool:
    """The answer repeats a passage the paper puts in quotes ("reply with 'X'" answered with X):
    the usual shape of an injected payload, and rare in an honest one-line summary."""
    answer = _folded(text)
    for quoted in map(_folded, _QUOTED.findall(paper)):
        if quoted and (quoted in answer or (answer in quoted and len(quoted) >= 0.8 * len(answer))):
            return True
    return False


def _folded(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.casefold()))


def check_tldr(answer: object, title: str, abstract: str) -> tuple[str | None, str | None]:
    """(accepted sentence, None) or (None, why it was refused)."""
    if not isinstance(answer, str):
        return None, "no text in the answer"
    text = plain_answer(answer)
    problem = form_problem(text) or grounding_problem(text, title, abstract)
    return (None, problem) if problem else (text, None)
