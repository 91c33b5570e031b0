"""Audio (mutagen) and video (hachoir, pure Python) metadata."""

from __future__ import annotations

from .base import FileInfo, Tagger


def duration_class(seconds: float) -> str:
    if seconds < 60:
        return "under 1 min"
    if seconds < 300:
        return "1-5 min"
    if seconds < 1200:
        return "5-20 min"
    if seconds < 3600:
        return "20-60 min"
    return "over 1 h"


def video_class(w: int, h: int) -> str:
    p = min(w, h)
    return "4k" if p >= 2160 else "full hd" if p >= 1080 else "hd" if p >= 720 else "sd"


AUDIO_EXTS = {"mp3", "flac", "ogg", "oga", "opus", "wav", "m4a", "aac", "wma", "aiff", "aif", "ape", "wv"}
VIDEO_EXTS = {"mp4", "m4v", "mkv", "webm", "avi", "mov", "wmv", "flv", "mpg", "mpeg", "3gp", "ogv"}


class AudioTagger(Tagger):
    name = "audio"

    def accepts(self, info: FileInfo) -> bool:
        return info.size > 0 and (info.mime.startswith("audio/") or info.ext in AUDIO_EXTS)

    def tag(self, info: FileInfo):
        import mutagen

        audio = mutagen.File(info.path, easy=True)
        if audio is None:
            return
        yield type(audio).__name__.lower().replace("easy", ""), "format"
        length = getattr(audio.info, "length", 0) or 0
        if length:
            yield duration_class(length), "duration"
        for field, frame, kind in (("artist", "TPE1", "artist"), ("albumartist", "TPE2", "artist"),
                                   ("album", "TALB", "album"), ("genre", "TCON", "genre")):
            for value in _values(audio.tags, field, frame):
                yield value, kind
        for value in _values(audio.tags, "date", "TDRC"):
            if value[:4].isdigit():
                yield value[:4], "year"


def _values(tags, easy_key: str, id3_frame: str) -> list[str]:
    """A tag's values whatever the container: easy keys (MP3, MP4, FLAC, Ogg) or
    raw ID3 frames (ID3 inside WAVE and AIFF has no "easy" view)."""
    if tags is None:
        return []
    if hasattr(tags, "getall"):
        return [str(text) for frame in tags.getall(id3_frame) for text in frame.text]
    try:
        return [str(v) for v in tags.get(easy_key, [])]
    except (KeyError, ValueError, TypeError):
        return []


class VideoTagger(Tagger):
    name = "video"

    def accepts(self, info: FileInfo) -> bool:
        return info.size > 0 and (info.mime.startswith("video/") or info.ext in VIDEO_EXTS)

    def tag(self, info: FileInfo):
        from hachoir.core import config as hachoir_config
        from hachoir.metadata import extractMetadata
        from hachoir.parser import createParser

        hachoir_config.quiet = True
        parser = createParser(info.path)
        if parser is None:
            return
        with parser:
            meta = extractMetadata(parser)
            container = parser.__class__.__name__.lower().replace("file", "").replace("parser", "")
        if container:
            yield container, "format"
        if meta is None:
            return
        if meta.has("duration"):
            yield duration_class(meta.get("duration").total_seconds()), "duration"
        width = _first(meta, "width")
        height = _first(meta, "height")
        if width and height:
            yield f"{width}x{height}", "resolution"
            yield video_class(width, height), "resolution"
        for key in ("author", "artist"):
            if meta.has(key):
                yield str(meta.get(key)), "author"


def _first(meta, key):
    """hachoir keeps per-stream values in groups; take the first found."""
    if meta.has(key):
        return meta.get(key)
    for group in getattr(meta, "iterGroups", lambda: [])():
        if group.has(key):
            return group.get(key)
    return None
