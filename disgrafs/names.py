"""File names: what a client sends is turned into one safe name, or refused.

DisGraFS has one flat namespace (the top of the data directory), so a stored
name is a single path component. The rules, in order:

1. Unicode NFC normalisation, so "é" typed two ways is one name.
2. Anything up to the last '/' or '\\' is dropped (browsers and old clients
   send "C:\\Users\\me\\a.txt" or "dir/a.txt"); this also removes "../" and
   absolute paths.
3. Control characters (C0, C1, DEL, and Unicode format characters such as
   the right-to-left override that disguises extensions) are removed;
   surrounding white space is stripped.
4. Refused: an empty result, "." and "..", a name starting with "." (hidden
   names are reserved: the server keeps its state in ".disgrafs", JuiceFS has
   ".trash", ".stats"...), and a name longer than 255 bytes in UTF-8 (the
   limit of Linux file systems, JuiceFS included).
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_BYTES = 255


class BadName(ValueError):
    """The name cannot be used; str() says why."""


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")


def sanitize_name(raw: str) -> str:
    if not isinstance(raw, str):
        raise BadName("the file name must be a string")
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(ch for ch in name if not _is_control(ch)).strip()
    if not name:
        raise BadName("the file name is empty")
    if name in (".", ".."):
        raise BadName(f"{name!r} is not a file name")
    if name.startswith("."):
        raise BadName("names starting with '.' are reserved")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise BadName(f"the file name is longer than {MAX_NAME_BYTES} bytes in UTF-8")
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
