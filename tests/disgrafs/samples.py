"""Small but real sample files for the taggers, made here (nothing downloaded)."""

from __future__ import annotations

import io
import struct
import wave


def pdf(text_lines: list[str], title: str = "", author: str = "") -> bytes:
    """A valid one-page PDF whose text layer holds text_lines (Helvetica)."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in text_lines:
        ops.append(f"({esc(line)}) Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ("<< /Title (%s) /Author (%s) >>" % (esc(title), esc(author))).encode("latin-1"),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, xref))
    return out.getvalue()


def jpeg_with_exif(width=640, height=480, make="Canon", model="Canon EOS 5D", year=2021, gps=True) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (width, height), (40, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = make
    exif[0x0110] = model
    exif[0x0131] = "darktable 4.2"
    exif.get_ifd(0x8769)[0x9003] = f"{year}:06:01 12:00:00"
    if gps:
        exif.get_ifd(0x8825)[1] = "N"
        exif.get_ifd(0x8825)[2] = (48.0, 8.0, 0.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif, quality=70)
    return buf.getvalue()


def png(width=32, height=64) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGBA", (width, height), (200, 50, 50, 255)).save(buf, "PNG")
    return buf.getvalue()


def wav(seconds: float = 1.5, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of silence with an ID3 chunk (artist, album, genre)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    data = buf.getvalue()
    from mutagen.id3 import ID3, TALB, TCON, TPE1

    tags = ID3()
    tags.add(TPE1(encoding=3, text="Test Orchestra"))
    tags.add(TALB(encoding=3, text="Lab Sessions"))
    tags.add(TCON(encoding=3, text="Ambient"))
    id3 = io.BytesIO()
    tags.save(id3)
    chunk = id3.getvalue()
    if len(chunk) % 2:
        chunk += b"\x00"
    body = data[12:] + b"id3 " + struct.pack("<I", len(chunk)) + chunk
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WAVE" + body


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(seconds: int = 75, width: int = 1280, height: int = 720) -> bytes:
    """The skeleton of an MP4 (ftyp + moov with mvhd and one video track):
    enough for metadata readers, no frames."""
    timescale = 1000
    mvhd = _box(b"mvhd", struct.pack(">B3xIIII", 0, 0, 0, timescale, seconds * timescale)
                + struct.pack(">I", 0x00010000) + struct.pack(">H", 0x0100) + b"\x00" * 10
                + struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
                + b"\x00" * 24 + struct.pack(">I", 2))
    tkhd = _box(b"tkhd", struct.pack(">B3sIIIII", 0, b"\x00\x00\x03", 0, 0, 1, 0, seconds * timescale)
                + b"\x00" * 8 + struct.pack(">hhhH", 0, 0, 0, 0)
                + struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
                + struct.pack(">II", width << 16, height << 16))
    mdhd = _box(b"mdhd", struct.pack(">B3xIIIIHH", 0, 0, 0, timescale, seconds * timescale, 0x55c4, 0))
    hdlr = _box(b"hdlr", struct.pack(">B3xI4s12x", 0, 0, b"vide") + b"VideoHandler\x00")
    mdia = _box(b"mdia", mdhd + hdlr)
    trak = _box(b"trak", tkhd + mdia)
    moov = _box(b"moov", mvhd + trak)
    ftyp = _box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")
    return ftyp + moov


NOTES_MD = """# Graph file systems

DisGraFS links every file to tags in a graph. A graph database answers
"which files share tags" quickly; the graph grows with every upload.

## Tags

Tags come from content: keywords, formats, cameras. Search a tag to find files.
"""

SCHEDULER_PY = '''"""A toy round-robin scheduler."""


class RoundRobinScheduler:
    def __init__(self, quantum):
        self.quantum = quantum
        self.run_queue = []

    def schedule(self, process):
        self.run_queue.append(process)

    def next_process(self):
        process = self.run_queue.pop(0)
        self.run_queue.append(process)
        return process
'''


def write_samples(directory, big_bytes: int = 4 * 1024 * 1024) -> dict[str, bytes]:
    """The set the browser test and the screenshot use."""
    import os

    files = {
        "paper.pdf": pdf(["Graph file systems link files to tags.",
                          "A graph database stores files and tags; the graph answers queries."],
                         title="Graph File Systems", author="Ada Lovelace"),
        "notes.md": NOTES_MD.encode(),
        "scheduler.py": SCHEDULER_PY.encode(),
        "photo.jpg": jpeg_with_exif(),
        "song.wav": wav(),
        "clip.mp4": mp4(),
        "trace.log": b"".join(b"%08d kernel: sched_switch prev=worker next=idle cpu=1\n" % i
                              for i in range(big_bytes // 56)),
    }
    os.makedirs(directory, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as fh:
            fh.write(data)
    return files
