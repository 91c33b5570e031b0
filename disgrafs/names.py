"""File names: what a client sends is turned into one safe name, or refused.

DisGraFS has one flat namespace (the top of the data directory), so a stored
name is a single path component. The rules, in order; each has a short id
that every refusal names (``BadName.rule``, and ``rule`` in the JSON error):

1. ``encoding``: the name must be text (lone surrogates, i.e. bytes that
   were not UTF-8, are refused).
   So are names with U+FFFD, which decoders put for such bytes ("%FF").
2. ``unicode``: NFKC normalisation, so "é" typed two ways is one name and
   full-width or compatibility forms ("ｅｖｉｌ．ｔｘｔ", "ﬁle") fold into
   their plain spelling ("evil.txt", "file"). It runs before rule 3, so a
   full-width solidus is a separator like "/".
3. ``path``: anything up to the last '/' or '\\' is dropped (browsers and old
   clients send "C:\\Users\\me\\a.txt" or "dir/a.txt"); this also removes
   "../" and absolute paths.
4. ``control``: control characters (C0, C1, DEL, and Unicode format characters
   such as the right-to-left override that disguises extensions) are
   removed; surrounding white space is stripped.
5. Refused: ``empty`` (nothing is left), ``dot`` ("." and ".."), ``hidden`` (a
   leading "." is reserved: the server keeps its state in ".disgrafs",
   JuiceFS has ".trash", ".stats"...), ``windows-reserved`` (CON, PRN, AUX,
   NUL, COM1-COM9, LPT1-LPT9, with any extension and in any case: Windows
   cannot open such a file, and the data directory is shared), and
   ``length`` (more than 255 bytes in UTF-8, the limit of Linux file
   systems, JuiceFS included).

When rule 3 dropped a directory part and what is left is refused, the
message says so: ``' OR 1=1 //.txt`` is refused because the part after the
last '/', ".txt", is hidden, and the message names both rules.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 255
WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(1, 10)] + [f"lpt{i}" for i in range(1, 10)])

RULES = ("encoding", "unicode", "path", "control", "empty", "dot", "hidden", "windows-reserved", "length")


PATH_RULE = "rule 'path': a name cannot contain '/' or '\\', so only the part after the last one is kept"


class BadName(ValueError):
    """The name cannot be used; str() says why, ``rule`` names the rule."""

    def __init__(self, rule: str, message: str):
        super().__init__(message)
        self.rule = rule


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def is_windows_reserved(name: str) -> bool:
    """CON, con.txt, Com1.tar.gz, "nul .txt": the part before the first dot,
    without trailing spaces (Windows ignores them), is a device name."""
    return name.split(".", 1)[0].rstrip(" ").lower() in WINDOWS_RESERVED


def sanitize_name(raw: str) -> str:
    if not isinstance(raw, str):
        raise BadName("encoding", "rule 'encoding': the file name must be a string")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise BadName("encoding", "rule 'encoding': the file name is not valid UTF-8 text") from None
    if "\ufffd" in raw:  # what a decoder puts for bytes that were not UTF-8 (%FF in a URL)
        raise BadName("encoding", "rule 'encoding': the file name had bytes that are not UTF-8 "
                                  "(U+FFFD replacement characters); send it in UTF-8")
    name = unicodedata.normalize("NFKC", raw)
    parts = re.split(r"[/\\]", name)
    name = parts[-1]
    name = "".join(ch for ch in name if not _is_control(ch)).strip()
    # when a directory part was dropped, say so: the client sent something else
    dropped = len(parts) > 1 and any(p.strip() for p in parts[:-1])
    via = PATH_RULE + f", {name!r}; " if dropped else ""
    if not name:
        if dropped:
            raise BadName("path", PATH_RULE + ", and nothing follows it")
        raise BadName("empty", "rule 'empty': the file name is empty (or only white space and control characters)")
    if name in (".", ".."):
        raise BadName("dot", f"{via}rule 'dot': {name!r} is not a file name")
    if name.startswith("."):
        raise BadName("hidden", f"{via}rule 'hidden': a leading '.' is reserved for the server's and "
                                "the file system's own entries (.disgrafs, .trash)")
    if is_windows_reserved(name):
        raise BadName("windows-reserved", f"{via}rule 'windows-reserved': {name.split('.', 1)[0]!r} is a "
                                          "device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9, "
                                          "with any extension); rename the file")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadName("length", f"{via}rule 'length': the file name is longer than {MAX_NAME_BYTES} "
                                "bytes in UTF-8")
    return name


def numbered(name: str, n: int) -> str:
    """'report.pdf', 2 -> 'report (2).pdf'; keeps the result within MAX_NAME_BYTES."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    suffix = f" ({n})" + (f".{ext}" if ext else "")
    while len((stem + suffix).encode("utf-8")) > MAX_NAME_BYTES and stem:
        stem = stem[:-1]
    return stem + suffix
