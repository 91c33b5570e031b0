"""Word stems, so that a search for "chloroplast" finds a file tagged
"chloroplasts" and "scheduling" finds "scheduled" (Snowball's English
stemmer, Porter 2, pure Python: snowballstemmer).

Only words with Latin letters are stemmed; others (Chinese words, numbers)
are their own stem. A tag's *stem key* is its words' stems between spaces,
" virtual runtim " for "virtual runtimes", stored on the Tag node (``stems``)
so a query word can be found inside a keyphrase with ``CONTAINS " runtim "``.
"""

from __future__ import annotations

import re
from functools import lru_cache

_LATIN = re.compile(r"[a-z]")
_stemmer = None


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    global _stemmer
    word = word.lower()
    if not _LATIN.search(word) or len(word) < 3:
        return word
    if _stemmer is None:
        import snowballstemmer

        _stemmer = snowballstemmer.stemmer("english")
    return _stemmer.stemWord(word.replace("’", "'"))


def stem_key(text: str) -> str:
    """' w1 w2 ' with each word stemmed; '' for no words."""
    words = text.lower().split()
    return " " + " ".join(stem(w) for w in words) + " " if words else ""
