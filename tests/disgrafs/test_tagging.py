"""Taggers on real files (made by samples.py), the executors, and tagging through the server."""

from __future__ import annotations

import asyncio
import time

import pytest

import samples
from conftest import tag_names
from disgrafs.storage import detect_mime
from disgrafs.tagging import run_taggers
from disgrafs.tagging.executors import ProcessExecutor, TaggingTimeout
from disgrafs.tagging.text import keywords


def tag(tmp_path, name, data, mime=None):
    path = tmp_path / name
    path.write_bytes(data)
    mime = mime or detect_mime(name, data[:8192])
    out = run_taggers({"path": str(path), "name": name, "mime": mime, "size": len(data)})
    return {(n, k) for n, k in out["tags"]}, out["errors"], mime


def kinds(tags, kind):
    return {n for n, k in tags if k == kind}


def test_markdown_keywords_weigh_headings(tmp_path):
    tags, errors, mime = tag(tmp_path, "notes.md", samples.NOTES_MD.encode())
    assert not errors and mime == "text/markdown"
    kw = kinds(tags, "keyword")
    assert {"graph", "tag", "file"} <= kw, kw  # plural folded into the singular
    assert not kw & {"the", "and", "with", "every"}  # stop words
    assert kinds(tags, "language") == {"markdown"}
    assert kinds(tags, "type") == {"text"} and kinds(tags, "ext") == {"md"}


def test_source_code_identifiers_are_split(tmp_path):
    tags, errors, _ = tag(tmp_path, "scheduler.py", samples.SCHEDULER_PY.encode())
    assert not errors
    kw = kinds(tags, "keyword")
    assert {"scheduler", "queue", "process", "quantum", "robin"} <= kw, kw
    assert not kw & {"self", "def", "return", "class", "init"}
    assert kinds(tags, "language") == {"python"} and kinds(tags, "type") == {"code"}


def test_keywords_unit():
    assert keywords("") == []
    assert keywords("kernel kernel kernel memory memory scheduler")[:2] == ["kernel", "memory"]
    assert set(keywords("getUserName get_user_name userName", code=True)) == {"user", "name"}
    long_text = " ".join(["alpha"] * 5 + ["beta"] * 3 + [f"noise{i}x" for i in range(80)])
    assert keywords(long_text) == ["alpha", "beta"]  # in long texts a keyword must recur


def test_pdf_text_and_metadata(tmp_path):
    data = samples.pdf(["Photosynthesis converts light energy.", "Chlorophyll absorbs light; photosynthesis."],
                       title="Photosynthesis basics", author="Jane Doe")
    tags, errors, mime = tag(tmp_path, "bio.pdf", data)
    assert not errors and mime == "application/pdf"
    assert {"photosynthesis", "light"} <= kinds(tags, "keyword")
    assert kinds(tags, "author") == {"jane doe"}
    assert kinds(tags, "pages") == {"1 page"} and kinds(tags, "type") == {"document"}


def test_image_format_size_and_exif(tmp_path):
    tags, errors, mime = tag(tmp_path, "photo.jpg", samples.jpeg_with_exif(width=1600, height=1200))
    assert not errors and mime == "image/jpeg"
    assert kinds(tags, "format") == {"jpeg"}
    assert kinds(tags, "resolution") == {"1600x1200", "0.3-2 mp"}
    assert kinds(tags, "orientation") == {"landscape"}
    assert kinds(tags, "camera") == {"canon eos 5d"} and kinds(tags, "year") == {"2021"}
    assert kinds(tags, "exif") == {"geotagged"} and kinds(tags, "software") == {"darktable 4.2"}
    plain, errors, _ = tag(tmp_path, "icon.png", samples.png(32, 64))
    assert not errors and kinds(plain, "orientation") == {"portrait"} and not kinds(plain, "camera")


def test_audio_metadata(tmp_path):
    tags, errors, mime = tag(tmp_path, "song.wav", samples.wav(seconds=2))
    assert not errors and mime.startswith("audio/")
    assert kinds(tags, "artist") == {"test orchestra"} and kinds(tags, "album") == {"lab sessions"}
    assert kinds(tags, "genre") == {"ambient"} and kinds(tags, "duration") == {"under 1 min"}
    assert kinds(tags, "type") == {"audio"}


def test_video_metadata(tmp_path):
    tags, errors, mime = tag(tmp_path, "clip.mp4", samples.mp4(seconds=75, width=1920, height=1080))
    assert not errors and mime == "video/mp4"
    assert kinds(tags, "duration") == {"1-5 min"}
    assert kinds(tags, "resolution") == {"1920x1080", "full hd"}
    assert kinds(tags, "type") == {"video"}


def test_generic_tags_for_anything(tmp_path):
    tags, errors, mime = tag(tmp_path, "blob.weird", bytes(range(256)) * 100)
    assert not errors and mime == "application/octet-stream"
    assert tags == {("binary", "type"), ("weird", "ext"), ("small", "size")}
    tags, _, _ = tag(tmp_path, "empty", b"")
    assert tags == {("binary", "type"), ("empty", "size")}


def test_a_broken_file_keeps_the_other_tags(tmp_path):
    tags, errors, _ = tag(tmp_path, "broken.pdf", b"%PDF-1.4\nthis is not really a pdf", mime="application/pdf")
    assert set(errors) == {"pdf"} and errors["pdf"]
    assert ("pdf", "ext") in tags and ("document", "type") in tags


def test_process_executor_kills_a_slow_job_and_recovers(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"word%d " * 1 + b" ".join(b"w%d" % i for i in range(300_000)))
    info = {"path": str(big), "name": "big.txt", "mime": "text/plain", "size": big.stat().st_size}
    small = tmp_path / "small.txt"
    small.write_bytes(b"otter otter river")
    small_info = {"path": str(small), "name": "small.txt", "mime": "text/plain", "size": 17}

    async def scenario():
        ex = ProcessExecutor(workers=1, timeout=0.001)
        await ex.start()
        try:
            pid = ex._workers[0].proc.pid
            with pytest.raises(TaggingTimeout):
                await ex.run(info, None)
            assert ex._workers[0].proc.pid != pid, "the stuck worker was replaced"
            ex.timeout = 30
            out = await ex.run(small_info, None)
            assert ["otter", "keyword"] in out["tags"]
        finally:
            await ex.close()

    asyncio.run(scenario())


SERVER_SAMPLES = {
    "paper.pdf": ({"graph"}, "keyword"),
    "notes.md": ({"graph", "tag"}, "keyword"),
    "photo.jpg": ({"canon eos 5d"}, "camera"),
    "song.wav": ({"test orchestra"}, "artist"),
    "clip.mp4": ({"hd"}, "resolution"),
    "scheduler.py": ({"python"}, "language"),
}


def test_tagging_through_the_server(server, tmp_path):
    files = samples.write_samples(tmp_path / "s", big_bytes=64 * 1024)
    ids = {name: server.upload_ok(name, data)["id"] for name, data in files.items()}
    for name, (expected, kind) in SERVER_SAMPLES.items():
        f = server.wait_tagged(ids[name])
        assert f["tag_status"] == "done", f
        assert expected <= tag_names(f, kind), (name, f["tags"])
    both = server.get("/api/search?q=graph&by=keyword").json()["items"]
    assert {"paper.pdf", "notes.md"} <= {i["name"] for i in both}


def test_failed_tagging_is_visible_and_retaggable(server):
    f = server.upload_ok("fake.pdf", b"%PDF-1.7\nnot a real pdf at all")
    f = server.wait_tagged(f["id"])
    assert f["tag_status"] == "failed" and f["tag_error"].startswith("pdf:")
    assert {"pdf", "document"} <= tag_names(f)  # generic tags still stored
    started = time.monotonic()
    assert server.request("POST", f"/api/files/{f['id']}/retag", auth=True).status == 202
    again = server.wait_tagged(f["id"])
    assert again["tag_status"] == "failed" and time.monotonic() - started < 30


def test_thread_executor_and_tagger_selection(make_server):
    srv = make_server("--tagger-executor", "thread", "--taggers", "generic")
    f = srv.wait_tagged(srv.upload_ok("only-generic.txt", b"walrus walrus walrus")["id"])
    assert f["tag_status"] == "done"
    assert {t["kind"] for t in f["tags"]} == {"type", "ext", "size"}
    assert srv.get("/healthz").json()["tagging"]["executor"] == "thread"


def test_ray_executor(make_server):
    """Runs where the `ray` package is installed (a local Ray instance is started)."""
    pytest.importorskip("ray", reason="the ray executor needs `pip install ray` (not a server dependency)")
    srv = make_server("--tagger-executor", "ray", env={"RAY_USAGE_STATS_ENABLED": "0"})
    f = srv.wait_tagged(srv.upload_ok("on-ray.md", b"# Rays\n\nray tracing ray casting")["id"], timeout=120)
    assert f["tag_status"] == "done", f
    assert "ray" in tag_names(f, "keyword")
    assert srv.get("/healthz").json()["tagging"]["executor"] == "ray"
    assert srv.stop(timeout=90) == 0
