"""Chinese text: word segmentation and keywords with jieba (its dictionary and
IDF table ship inside the package: nothing is downloaded).

A Chinese sentence has no spaces, so without segmentation a whole clause was
one "word". jieba cuts it into words (precise mode, HMM for unknown words)
and ranks them by TF-IDF against its own IDF table, so that frequent but
meaningless words ("进行", "可以") rank low. Loaded lazily, once per tagging
worker (about 1 s and 150 MB), and only for text that has Chinese in it.
"""

from __future__ import annotations

import logging
import re

# CJK unified ideographs (and extension A, compatibility, extension B+)
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")

# Function words jieba's IDF table does not push down far enough.
STOP_WORDS = frozenset("""
的 了 和 是 在 有 我 他 她 它 们 这 那 一个 一种 以及 以后 之前 之后 可以 进行 通过 需要 使用 没有 就是
如果 因为 所以 但是 而且 并且 或者 还是 这个 那个 这些 那些 每个 总是 通常 常见 包括 随后 从而 其中
一些 一直 之一 等等 得到 根据 同一 同时 其他 另外 可能 已经 不是 什么 怎么 如何 这样 那样 我们 你们 他们
自己 它们 不会 不能 能够 应该 由于 对于 关于 以便 为了 并不 然后 以上 以下 所有 任何 各种 一样 非常
""".split())


def has_cjk(text: str, minimum: int = 1) -> bool:
    return len(CJK.findall(text[:200_000])) >= minimum


_jieba = None


def _load():
    global _jieba
    if _jieba is None:
        import jieba
        import jieba.analyse

        jieba.setLogLevel(logging.WARNING)
        _jieba = jieba
    return _jieba


def segment(text: str) -> list[str]:
    """Words of a CJK run (jieba's precise mode)."""
    return [w for w in _load().lcut(text) if w.strip()]


def keywords(text: str, limit: int) -> list[str]:
    """TF-IDF keywords of a text with Chinese in it (other words, e.g. English
    terms in a Chinese text, are ranked with jieba's median IDF)."""
    jieba = _load()
    out = []
    for w in jieba.analyse.extract_tags(text, topK=limit * 3):
        w = w.strip().lower()
        if len(w) < 2 or w in STOP_WORDS or w.isdigit() or not re.search(r"[^\W\d_]", w):
            continue
        if not CJK.search(w) and len(w) < 3:
            continue
        out.append(w)
        if len(out) == limit:
            break
    return out
