"""Keywords from text: prose, Markdown and source code.

A small, explainable extractor: words are counted, stop words and (for code)
language keywords dropped, Markdown headings and PDF titles weigh more, and
the best-scored words become ``keyword`` tags. Reads at most MAX_BYTES.

On top of the words, prose gets multi-word keyphrases (YAKE, keyphrase.py:
"virtual runtime", "page table entry"), and text with Chinese in it is
segmented into words and ranked by TF-IDF with jieba (chinese.py), instead
of keeping whole clauses.
"""

from __future__ import annotations

import re
from collections import Counter

from . import chinese
from .base import FileInfo, Tagger
from .generic import CODE_EXTS, DATA_EXTS
from .keyphrase import keyphrases, word_scores
from .stem import stem

MAX_BYTES = 2 * 1024 * 1024
MAX_KEYWORDS = 12
MAX_PHRASES = 6
# Chinese characters from which a text is ranked by jieba's TF-IDF
CJK_TEXT = 20

STOP_WORDS = frozenset("""
a about above after again against all almost also although always am among an and another any
anyone anything are around as at away be became because become been before being below between
both but by can cannot could did do does doing done down during each either else enough etc even
ever every few for from further get gets getting give given go goes going got had has have having
he her here hers herself him himself his how however i if in into is it its itself just keep know
last least less let like made make makes many may me might more most much must my myself need
neither never new next no nor not now of off often on once one only onto or other others otherwise
our ours ourselves out over own per perhaps put quite rather really said same see seem seen shall
she should show since so some something still such take than that the their theirs them
themselves then there these they thing things this those though through thus to together too
toward under until up upon us use used uses using very via was way we well were what whatever
when where whether which while who whom whose why will with within without would yes yet you your
yours yourself yourselves one two three four five six seven eight nine ten first second third
however therefore example e.g i.e http https www com org html
""".split())

CODE_WORDS = frozenset("""
abstract and args argv arguments as assert async await auto bool boolean break byte case catch
char class const constexpr continue def default defer del delete do double elif else enum except
export extends extern false final finally float fn for foreach from func function global go goto
if impl implements import in include init instanceof int interface is lambda let long loop match
mod module mut namespace native new nil none nonlocal not null object of or package pass println
printf private protected pub public raise ref register return self short signed sizeof static
str string struct super switch sync synchronized template then this throw throws trait true try
type typedef typeof uint union unsigned use using val var void volatile where while with yield
cls kwargs len list dict set tuple range print main value values key keys item items data obj
result res err error ret tmp temp buf ptr size count index idx num get put add src dst
""".split())

_WORD = re.compile(r"[^\W\d_](?:[^\W_]|['’-](?=[^\W\d_]))*")
_IDENT = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*)$", re.MULTILINE)

TEXT_MIMES = ("application/json", "application/xml", "application/yaml", "application/toml",
              "application/javascript", "application/x-sh")


def is_text(info: FileInfo) -> bool:
    return (info.mime.startswith("text/") or info.mime in TEXT_MIMES
            or info.ext in CODE_EXTS or info.ext in DATA_EXTS)


def read_text(path: str, limit: int = MAX_BYTES) -> str:
    with open(path, "rb") as fh:
        raw = fh.read(limit)
    return raw.decode("utf-8", errors="replace")


def prose_words(text: str):
    for w in _WORD.findall(text):
        w = w.lower().strip("'’-")
        if chinese.CJK.search(w):  # a clause without spaces: cut it into words
            yield from (s for s in chinese.segment(w) if len(s) >= 2 and s not in chinese.STOP_WORDS
                        and not s.isdigit())
        elif 3 <= len(w) <= 30 and w not in STOP_WORDS:
            yield w


def code_words(text: str):
    for ident in _IDENT.findall(text):
        for part in _CAMEL.findall(ident):
            w = part.lower()
            if 3 <= len(w) <= 30 and not w.isdigit() and w not in CODE_WORDS and w not in STOP_WORDS:
                yield w


def keywords(text: str, *, code: bool = False, boost: str = "", limit: int = MAX_KEYWORDS,
             min_count: int | None = None) -> list[str]:
    """The most significant words of ``text``; words in ``boost`` count three times.
    A word must occur ``min_count`` times (default: twice in a long text, once
    in a short one)."""
    if not code and chinese.has_cjk(text, CJK_TEXT):
        return chinese.keywords(boost + "\n" + boost + "\n" + text if boost else text, limit)
    words = code_words if code else prose_words
    counts = Counter(words(text))
    for w in words(boost):
        counts[w] += 3
    if not counts:
        return []
    # "file" and "files", "verifier" and "verifies" are one keyword: words are
    # counted by stem and shown in their most frequent spelling, a plural
    # folded into its singular when both occur.
    by_stem: dict[str, int] = Counter()
    forms: dict[str, list[tuple[int, str]]] = {}
    for w, c in counts.items():
        key = stem(w)
        by_stem[key] += c
        forms.setdefault(key, []).append((c, w))
    spelling = {}
    for key, found in forms.items():
        best = max(found, key=lambda cw: (cw[0], -len(cw[1]), cw[1]))[1]
        if best.endswith("s") and not best.endswith("ss") and best[:-1] in counts:
            best = best[:-1]
        spelling[key] = best
    # In a long text a word must recur to be a keyword; in a short one, once is enough.
    floor = min_count or (2 if sum(by_stem.values()) > 60 else 1)
    # Ties (frequent in short texts) go to the word YAKE finds more significant
    # (early, capitalised, in few different contexts), then alphabetically.
    significance = {} if code else word_scores(boost + "\n\n" + text, STOP_WORDS)
    inf = float("inf")
    ranked = sorted(by_stem.items(), key=lambda kv: (-kv[1], significance.get(spelling[kv[0]], inf), spelling[kv[0]]))
    return [spelling[k] for k, c in ranked if c >= floor][:limit]

LANGUAGES = {
    "py": "python", "c": "c", "h": "c", "cc": "c++", "cpp": "c++", "hpp": "c++", "go": "go",
    "rs": "rust", "java": "java", "js": "javascript", "mjs": "javascript", "jsx": "javascript",
    "ts": "typescript", "tsx": "typescript", "sh": "shell", "bash": "shell", "rb": "ruby",
    "pl": "perl", "php": "php", "lua": "lua", "swift": "swift", "kt": "kotlin", "scala": "scala",
    "cs": "c#", "sql": "sql", "r": "r", "hs": "haskell", "zig": "zig", "dart": "dart",
    "md": "markdown", "markdown": "markdown", "rst": "restructuredtext", "bpf": "ebpf",
}


def phrases(text: str, *, boost: str = "", limit: int = MAX_PHRASES) -> list[str]:
    """Keyphrases of two or three words seen at least twice (headings count again)."""
    if chinese.has_cjk(text, CJK_TEXT):
        return []  # jieba's words are already whole terms ("文件系统")
    return keyphrases(text + "\n\n" + boost, STOP_WORDS, top=limit, min_count=2)


class TextTagger(Tagger):
    name = "text"

    def accepts(self, info: FileInfo) -> bool:
        return info.size > 0 and is_text(info)

    def tag(self, info: FileInfo):
        text = read_text(info.path)
        code = info.ext in CODE_EXTS
        boost = ""
        if info.ext in ("md", "markdown") or info.mime == "text/markdown":
            boost = "\n".join(_MD_HEADING.findall(text))
        language = LANGUAGES.get(info.ext)
        if language:
            yield language, "language"
        for w in keywords(text, code=code, boost=boost):
            yield w, "keyword"
        if not code and info.ext not in DATA_EXTS:
            for p in phrases(text, boost=boost):
                yield p, "keyword"
