"""The tagger plug-in interface and the function every executor runs.

A tagger is an object with a ``name``, ``accepts(info) -> bool`` and
``tag(info) -> iterable of (name, kind)``. Built-in taggers are listed in
:data:`BUILTIN`; other packages add theirs through the ``disgrafs.taggers``
entry-point group (each entry point names a Tagger class or instance).

:func:`run_taggers` is the unit of work. It takes and returns plain dicts and
lists, so it can run in this process, in a worker process, or on a Ray node
(which must see the file at the same path, e.g. the same JuiceFS mount).
"""

from __future__ import annotations

import re
import traceback
import unicodedata
from dataclasses import dataclass
from importlib import metadata

MAX_TAG_CHARS = 80
MAX_TAGS_PER_KIND = 20


@dataclass(frozen=True)
class FileInfo:
    path: str  # absolute path to read the content from
    name: str  # the stored name (for the extension)
    mime: str
    size: int

    @property
    def ext(self) -> str:
        stem, dot, ext = self.name.rpartition(".")
        return ext.lower() if dot and stem else ""


class Tagger:
    name = "base"

    def accepts(self, info: FileInfo) -> bool:
        return True

    def tag(self, info: FileInfo):
        raise NotImplementedError


def normalize_tag(name: str) -> str:
    """Lower case, NFC, single spaces, no control characters, bounded length."""
    name = unicodedata.normalize("NFC", str(name))
    name = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in name)
    name = re.sub(r"\s+", " ", name).strip().lower()
    return name[:MAX_TAG_CHARS].strip()


def _builtin() -> dict[str, Tagger]:
    from .generic import GenericTagger
    from .image import ImageTagger
    from .media import AudioTagger, VideoTagger
    from .pdf import PdfTagger
    from .speech import SpeechTagger
    from .text import TextTagger

    taggers = [GenericTagger(), TextTagger(), PdfTagger(), ImageTagger(), AudioTagger(), SpeechTagger(),
               VideoTagger()]
    return {t.name: t for t in taggers}


def available_taggers() -> dict[str, Tagger]:
    """Built-ins plus the ``disgrafs.taggers`` entry points."""
    taggers = _builtin()
    for ep in metadata.entry_points(group="disgrafs.taggers"):
        obj = ep.load()
        tagger = obj() if isinstance(obj, type) else obj
        taggers[tagger.name] = tagger
    return taggers


def run_taggers(info: dict, enabled: list[str] | None = None) -> dict:
    """Run every accepting tagger on one file.

    Returns ``{"tags": [[name, kind], ...], "errors": {tagger: message}}``.
    One tagger failing does not lose the others' tags.
    """
    fi = FileInfo(**info)
    taggers = available_taggers()
    names = enabled or list(taggers)
    unknown = [n for n in names if n not in taggers]
    tags: dict[tuple[str, str], None] = {}
    errors: dict[str, str] = {n: "no such tagger" for n in unknown}
    for name in names:
        tagger = taggers.get(name)
        if tagger is None or not tagger.accepts(fi):
            continue
        try:
            per_kind: dict[str, int] = {}
            for tag_name, kind in tagger.tag(fi):
                tag_name, kind = normalize_tag(tag_name), normalize_tag(kind)
                if not tag_name or not kind or per_kind.get(kind, 0) >= MAX_TAGS_PER_KIND:
                    continue
                per_kind[kind] = per_kind.get(kind, 0) + 1
                tags[(tag_name, kind)] = None
        except Exception as exc:  # a bad file must not stop the other taggers
            last = traceback.extract_tb(exc.__traceback__)[-1]
            errors[name] = f"{type(exc).__name__}: {exc} ({last.filename.rsplit('/', 1)[-1]}:{last.lineno})"
    return {"tags": [list(t) for t in tags], "errors": errors}
