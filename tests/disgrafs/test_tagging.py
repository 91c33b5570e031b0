"""Taggers on real files (made by samples.py), the executors, and tagging through the server."""

from __future__ import annotations

import asyncio
import os
import time
import urllib.parse

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


def _ray_or_skip():
    import importlib.util
    import os

    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must test the ray executor: install the 'ray' extra (pip install -e '.[server,test,ray]')")
        pytest.skip("the ray executor needs the 'ray' extra: pip install -e '.[ray]'")


def _descendants(pid: int) -> set[int]:
    import os

    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _listening_addresses(pids: set[int]) -> set[str]:
    """Local addresses of the TCP sockets these processes listen on."""
    import ipaddress
    import os

    inodes = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    out = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                cols = line.split()
                if cols[3] == "0A" and cols[9] in inodes:  # LISTEN
                    raw = bytes.fromhex(cols[1].split(":")[0])
                    # /proc shows each 32-bit word in host (little-endian) order
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                    addr = ipaddress.ip_address(raw)
                    out.add(str(addr.ipv4_mapped or addr) if size == 16 else str(addr))
    return out


def test_ray_executor(make_server, tmp_path):
    """A local Ray started by the server: tags files, listens on loopback only,
    writes nothing in $HOME, and leaves nothing behind when stopped."""
    _ray_or_skip()
    home = tmp_path / "home"
    home.mkdir()
    started = time.monotonic()
    srv = make_server("--tagger-executor", "ray", env={"HOME": str(home)})
    start_seconds = time.monotonic() - started
    f = srv.wait_tagged(srv.upload_ok("on-ray.md", b"# Rays\n\nray tracing ray casting")["id"], timeout=120)
    assert f["tag_status"] == "done", f
    assert "ray" in tag_names(f, "keyword")
    assert srv.get("/healthz").json()["tagging"]["executor"] == "ray"

    ray_pids = _descendants(srv.proc.pid)
    assert ray_pids, "the local Ray processes are the server's descendants"
    addresses = _listening_addresses(ray_pids | {srv.proc.pid})
    assert addresses and addresses <= {"127.0.0.1", "::1"}, addresses
    temp_dirs = [line.split("session files in ", 1)[1].strip() for line in srv.log().splitlines()
                 if "session files in " in line]
    assert temp_dirs, srv.log()

    stopping = time.monotonic()
    assert srv.stop(timeout=90) == 0
    print(f"ray executor: start {start_seconds:.1f} s, stop {time.monotonic() - stopping:.1f} s")
    assert list(home.iterdir()) == [], "Ray wrote into $HOME"
    import os

    assert not os.path.exists(temp_dirs[-1]), "Ray's session directory was left behind"
    wait = time.monotonic() + 30
    while time.monotonic() < wait and any(os.path.exists(f"/proc/{p}") for p in ray_pids):
        time.sleep(0.5)
    leftover = [p for p in ray_pids if os.path.exists(f"/proc/{p}") and
                open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
    assert not leftover, f"Ray processes left running: {leftover}"


def test_ray_unreachable_is_a_clear_error_in_time(make_server):
    _ray_or_skip()
    import socket

    with socket.socket() as s:  # a loopback port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = make_server("--tagger-executor", "ray", "--ray-address", f"127.0.0.1:{port}",
                      "--ray-start-timeout", "5", start=False)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=f"could not connect to the Ray cluster at 127.0.0.1:{port}"):
        srv.start(timeout=60)
    assert time.monotonic() - started < 45


SPOKEN = ("Photosynthesis happens in the leaf. Photosynthesis needs sunlight and water. "
          "Photosynthesis makes sugar for the plant.")


def espeak_wav(path, text):
    import shutil
    import subprocess

    if not shutil.which("espeak-ng"):
        # make test installs it (.ci/deps-disgrafs.sh): there this test must run
        (pytest.fail if os.environ.get("CI") else pytest.skip)(
            "espeak-ng is not installed (.ci/deps-disgrafs.sh installs it)")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "120", "-w", str(path), text], check=True, timeout=60)
    return path.read_bytes()


def test_keywords_from_speech(tmp_path):
    """Speech made here by espeak-ng, recognised offline by PocketSphinx's bundled model."""
    data = espeak_wav(tmp_path / "speech.wav", SPOKEN)
    tags, errors, mime = tag(tmp_path, "lecture.wav", data)
    assert not errors and mime.startswith("audio/")
    assert ("speech", "audio") in tags
    assert "photosynthesis" in kinds(tags, "keyword"), tags


def test_speech_through_the_server_is_searchable(server, tmp_path):
    data = espeak_wav(tmp_path / "speech.wav", SPOKEN)
    f = server.wait_tagged(server.upload_ok("voice-memo.wav", data)["id"], timeout=120)
    assert f["tag_status"] == "done", f
    assert "photosynthesis" in tag_names(f, "keyword")
    found = server.get("/api/search?q=photosynthesis&by=keyword").json()["items"]
    assert "voice-memo.wav" in {i["name"] for i in found}


def test_wav_reader_resamples_and_mixes(tmp_path):
    import wave

    from disgrafs.tagging.speech import read_wav

    path = tmp_path / "stereo.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(44100)
        w.writeframes(b"\x00\x10\x00\x30" * 44100)  # 1 s of constant stereo
    pcm = read_wav(str(path))
    assert abs(len(pcm) // 2 - 16000) <= 1
    assert int.from_bytes(pcm[1000:1002], "little", signed=True) == (0x1000 + 0x3000) // 2


def test_keyphrases_chinese_and_stems(tmp_path):
    from disgrafs.tagging.keyphrase import keyphrases
    from disgrafs.tagging.stem import stem_key
    from disgrafs.tagging.text import STOP_WORDS

    text = ("The scheduler tracks the virtual runtime of each task. A task with the smallest virtual "
            "runtime runs next. Virtual runtimes grow with the time a task runs.")
    assert "virtual runtime" in keyphrases(text, STOP_WORDS, min_count=2)
    assert stem_key("Virtual Runtimes") == stem_key("virtual runtime") == " virtual runtim "
    assert stem_key("chloroplasts") == stem_key("chloroplast")
    tags, errors, _ = tag(tmp_path, "sched.md", ("# 进程调度\n\n" + "操作系统的进程调度决定哪个进程运行。"
                                                "调度器为每个进程记录虚拟运行时间，进程调度追求公平。").encode())
    assert not errors
    kw = kinds(tags, "keyword")
    assert {"进程", "调度"} <= kw, kw
    assert not any(len(k) > 8 for k in kw), kw  # no whole clauses


def test_search_matches_inflections_phrases_and_chinese(server):
    server.wait_tagged(server.upload_ok("chloro.txt", b"Chloroplasts, chloroplasts: plant chloroplasts.")["id"])
    server.wait_tagged(server.upload_ok("cfs.md", b"# Virtual runtime\n\nThe virtual runtime of a task. "
                                                  b"Virtual runtime decides.")["id"])
    server.wait_tagged(server.upload_ok("zh.txt", "进程调度决定哪个进程先运行，进程调度需要公平。".encode())["id"])

    def names(q, by="any"):
        r = server.get("/api/search?" + urllib.parse.urlencode({"q": q, "by": by}))
        assert r.status == 200, r
        return [i["name"] for i in r.json()["items"]]

    assert "chloro.txt" in names("chloroplast", "keyword")
    assert "chloro.txt" in names("Chloroplast", "tag")
    assert "cfs.md" in names("runtimes", "keyword")  # a word of the keyphrase, inflected
    assert names("virtual runtime")[0] == "cfs.md"
    assert "zh.txt" in names("进程调度") and "zh.txt" in names("进程调度", "keyword")
