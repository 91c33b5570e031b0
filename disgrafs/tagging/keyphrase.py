"""Multi-word keyphrases with YAKE (Campos, Mangaravite, Pasquali, Jorge, Nunes
and Jatowt, "YAKE! Keyword extraction from single documents using multiple
local features", Information Sciences 509, 2020).

YAKE is unsupervised and needs no corpus or model: every word gets a score
from five statistics of the document itself (casing, position of its first
sentences, frequency, how many different words surround it, how many
sentences contain it), and a candidate phrase of 1-3 words scores the
product of its words' scores divided by its own frequency. Lower is better.
This is a compact implementation of the published method (the reference
package pulls in numpy, networkx, jellyfish and segtok, too heavy for the
server's dependencies). Where it differs: sentence splitting is a regular
expression; a candidate may not contain a stop word at all (the reference
allows "bank of america" and penalises it); and candidates are counted by
their stemmed words, so "page table" and "page tables" are one phrase, shown
in its most frequent spelling.

The text tagger uses it for phrases of two or three words ("virtual runtime",
"page table entry") seen at least twice; single keywords still come from
word counts.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter, defaultdict
from difflib import SequenceMatcher

from .stem import stem

MAX_CHARS = 200_000
MAX_NGRAM = 3

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=\S)|\n\s*\n+|\n(?=\s*(?:#|[-*+]\s|\d+\.\s))")
# chunk breaks inside a sentence: punctuation a phrase cannot span
_CHUNK = re.compile(r"[,;:()\[\]{}<>\"“”‘’«»|/\\=`*_#]+|\s[-–—]+\s|\.\s")
_TOKEN = re.compile(r"[^\W\d_](?:[^\W_]|['’-](?=[^\W\d_]))*|\d+(?:[.,]\d+)*", re.UNICODE)


def _sentences(text: str) -> list[list[list[str]]]:
    """sentences -> chunks -> tokens (original case)."""
    out = []
    for sentence in _SENTENCE.split(text):
        chunks = [_TOKEN.findall(c) for c in _CHUNK.split(sentence)]
        chunks = [c for c in chunks if c]
        if chunks:
            out.append(chunks)
    return out


def _is_stop(stop_words: frozenset, w: str) -> bool:
    return w in stop_words or len(w) < 3 or w[0].isdigit()


def word_scores(text: str, stop_words: frozenset) -> dict[str, float]:
    """YAKE's score of every word that is not a stop word (lower is better)."""
    return _analyse(_sentences(text[:MAX_CHARS]), stop_words)


def _analyse(sentences, stop_words: frozenset) -> dict[str, float]:
    def is_stop(w: str) -> bool:
        return _is_stop(stop_words, w)

    tf: Counter = Counter()
    upper: Counter = Counter()
    acronym: Counter = Counter()
    positions: dict[str, list[int]] = defaultdict(list)
    left: dict[str, list[str]] = defaultdict(list)
    right: dict[str, list[str]] = defaultdict(list)
    for si, chunks in enumerate(sentences):
        first = True
        for chunk in chunks:
            prev = None
            for tok in chunk:
                w = tok.lower()
                tf[w] += 1
                if len(tok) > 1 and tok.isupper():
                    acronym[w] += 1
                elif tok[0].isupper() and not first:
                    upper[w] += 1
                first = False
                if not positions[w] or positions[w][-1] != si:
                    positions[w].append(si)
                if prev is not None and not is_stop(prev) and not is_stop(w):
                    left[w].append(prev)
                    right[prev].append(w)
                prev = w

    valid = [c for w, c in tf.items() if not is_stop(w)]
    if not valid:
        return {}
    mean_tf = statistics.fmean(valid)
    std_tf = statistics.pstdev(valid) if len(valid) > 1 else 0.0
    max_tf = max(valid)
    n_sentences = len(sentences)

    score: dict[str, float] = {}
    for w, count in tf.items():
        if is_stop(w):
            continue
        t_case = max(upper[w], acronym[w]) / (1.0 + math.log(count))
        t_pos = math.log(math.log(3.0 + statistics.median(positions[w])))
        t_freq = count / (mean_tf + std_tf)
        wl = len(set(left[w])) / len(left[w]) if left[w] else 0.0
        wr = len(set(right[w])) / len(right[w]) if right[w] else 0.0
        t_rel = 1.0 + (wl + wr) * count / max_tf
        t_diff = len(positions[w]) / n_sentences
        score[w] = t_rel * t_pos / (t_case + t_freq / t_rel + t_diff / t_rel)
    return score


def keyphrases(text: str, stop_words: frozenset, *, top: int = 6, min_words: int = 2,
               max_words: int = MAX_NGRAM, min_count: int = 1) -> list[str]:
    """The ``top`` best YAKE keyphrases of ``min_words``..``max_words`` words,
    lower case, near-duplicates removed. Phrases seen fewer than ``min_count``
    times are skipped."""
    sentences = _sentences(text[:MAX_CHARS])
    score = _analyse(sentences, stop_words)
    if not score:
        return []

    def is_stop(w: str) -> bool:
        return _is_stop(stop_words, w)

    candidates: Counter = Counter()  # by stemmed words
    spellings: dict[tuple, Counter] = defaultdict(Counter)
    for chunks in sentences:
        for chunk in chunks:
            words = [t.lower() for t in chunk]
            for n in range(min_words, max_words + 1):
                for i in range(len(words) - n + 1):
                    gram = words[i:i + n]
                    if any(is_stop(g) for g in gram):
                        continue
                    key = tuple(stem(g) for g in gram)
                    candidates[key] += 1
                    spellings[key][tuple(gram)] += 1

    ranked = []
    for key, count in candidates.items():
        if count < min_count:
            continue
        gram = spellings[key].most_common(1)[0][0]
        inner = [score[w] for w in gram]
        ranked.append((math.prod(inner) / (count * (1.0 + sum(inner))), " ".join(gram)))
    ranked.sort()

    chosen: list[str] = []
    for _, phrase in ranked:
        if any(SequenceMatcher(None, phrase, c).ratio() >= 0.8 or phrase in c or c in phrase for c in chosen):
            continue
        chosen.append(phrase)
        if len(chosen) == top:
            break
    return chosen
