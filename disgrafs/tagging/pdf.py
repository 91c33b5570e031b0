"""PDF: title/author from the document information, keywords from the text of
the first pages (bounded), and a page-count class."""

from __future__ import annotations

import logging

from .base import FileInfo, Tagger
from .text import keywords, phrases

MAX_PAGES = 30
MAX_CHARS = 1_000_000


def page_class(n: int) -> str:
    if n <= 1:
        return "1 page"
    if n <= 10:
        return "2-10 pages"
    if n <= 100:
        return "11-100 pages"
    return "100+ pages"


class PdfTagger(Tagger):
    name = "pdf"

    def accepts(self, info: FileInfo) -> bool:
        return info.mime == "application/pdf" or info.ext == "pdf"

    def tag(self, info: FileInfo):
        from pypdf import PdfReader

        logging.getLogger("pypdf").setLevel(logging.ERROR)
        reader = PdfReader(info.path)
        if reader.is_encrypted:
            yield "encrypted", "pdf"
            try:
                reader.decrypt("")
            except Exception:
                return
        yield page_class(len(reader.pages)), "pages"
        meta = reader.metadata or {}
        title = str(meta.get("/Title") or "")
        author = str(meta.get("/Author") or "")
        if author:
            yield author, "author"
        for kw in str(meta.get("/Keywords") or "").replace(";", ",").split(","):
            if kw.strip():
                yield kw.strip(), "keyword"
        parts, total = [], 0
        for page in reader.pages[:MAX_PAGES]:
            text = page.extract_text() or ""
            parts.append(text)
            total += len(text)
            if total >= MAX_CHARS:
                break
        text = "\n".join(parts)[:MAX_CHARS]
        for w in keywords(text, boost=title):
            yield w, "keyword"
        for p in phrases(text, boost=title):
            yield p, "keyword"
