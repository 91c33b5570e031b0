"""Images: format, size, orientation and EXIF (camera, year, GPS, software).
Only the header is read: pixels are never decoded."""

from __future__ import annotations

from .base import FileInfo, Tagger

EXIF_IFD = 0x8769
TAG_MAKE, TAG_MODEL, TAG_SOFTWARE, TAG_DATETIME = 0x010F, 0x0110, 0x0131, 0x0132
TAG_DATETIME_ORIGINAL, TAG_GPS = 0x9003, 0x8825


def megapixel_class(w: int, h: int) -> str:
    mp = w * h / 1e6
    if mp < 0.3:
        return "under 0.3 mp"
    if mp < 2:
        return "0.3-2 mp"
    if mp < 8:
        return "2-8 mp"
    return "8+ mp"


class ImageTagger(Tagger):
    name = "image"

    def accepts(self, info: FileInfo) -> bool:
        return info.mime.startswith("image/") and info.size > 0

    def tag(self, info: FileInfo):
        from PIL import Image

        with Image.open(info.path) as img:  # lazy: reads the header only
            w, h = img.size
            if img.format:
                yield img.format.lower(), "format"
            yield f"{w}x{h}", "resolution"
            yield megapixel_class(w, h), "resolution"
            yield ("landscape" if w > h else "portrait" if h > w else "square"), "orientation"
            if getattr(img, "is_animated", False):
                yield "animated", "image"
            exif = img.getexif()
        if not exif:
            return
        make = str(exif.get(TAG_MAKE, "")).strip("\x00 ")
        model = str(exif.get(TAG_MODEL, "")).strip("\x00 ")
        if model:
            yield (model if make and model.lower().startswith(make.lower().split()[0])
                   else f"{make} {model}".strip()), "camera"
        elif make:
            yield make, "camera"
        software = str(exif.get(TAG_SOFTWARE, "")).strip("\x00 ")
        if software:
            yield software, "software"
        taken = str(exif.get_ifd(EXIF_IFD).get(TAG_DATETIME_ORIGINAL) or exif.get(TAG_DATETIME) or "")
        if len(taken) >= 4 and taken[:4].isdigit():
            yield taken[:4], "year"
        if exif.get(TAG_GPS) or exif.get_ifd(TAG_GPS):
            yield "geotagged", "exif"
