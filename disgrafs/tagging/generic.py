"""Tags every file gets: its type, its extension and its size class."""

from __future__ import annotations

from .base import FileInfo, Tagger

ARCHIVES = {
    "application/zip", "application/gzip", "application/x-tar", "application/x-7z-compressed",
    "application/x-rar-compressed", "application/vnd.rar", "application/x-bzip2", "application/x-xz",
    "application/zstd", "application/x-zstd", "application/x-lzip", "application/java-archive",
}
DOCUMENT_HINTS = ("pdf", "msword", "officedocument", "opendocument", "rtf", "epub", "postscript")
CODE_EXTS = {
    "py", "c", "h", "cc", "cpp", "hpp", "go", "rs", "java", "js", "mjs", "ts", "tsx", "jsx",
    "sh", "bash", "rb", "pl", "php", "lua", "swift", "kt", "scala", "cs", "bpf", "sql", "r",
    "ml", "hs", "ex", "erl", "clj", "zig", "nim", "dart", "m", "asm", "s", "makefile",
}
DATA_EXTS = {"json", "yaml", "yml", "toml", "xml", "csv", "tsv", "ini", "cfg", "conf"}

SIZE_CLASSES = [
    (0, "empty"), (10 * 1024, "tiny"), (1024**2, "small"), (100 * 1024**2, "medium"),
    (1024**3, "large"),
]


def file_type(info: FileInfo) -> str:
    mime = info.mime
    if info.ext in CODE_EXTS:
        return "code"
    if info.ext in DATA_EXTS:
        return "data"
    if mime in ARCHIVES:
        return "archive"
    if any(h in mime for h in DOCUMENT_HINTS):
        return "document"
    top = mime.split("/", 1)[0]
    if top in ("image", "audio", "video", "text", "font"):
        return top
    if mime in ("application/json", "application/xml", "application/yaml", "application/toml"):
        return "data"
    return "binary"


def size_class(size: int) -> str:
    for limit, label in SIZE_CLASSES:
        if size <= limit:
            return label
    return "huge"


class GenericTagger(Tagger):
    name = "generic"

    def tag(self, info: FileInfo):
        yield file_type(info), "type"
        if info.ext:
            yield info.ext, "ext"
        yield size_class(info.size), "size"
