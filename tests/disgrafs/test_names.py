"""Hostile and odd file names: sanitized into the one flat namespace, or refused."""

from __future__ import annotations

import os
import unicodedata
import urllib.parse

import pytest

from disgrafs.names import BadName, numbered, sanitize_name

# raw name -> stored name
SANITIZED = {
    "../../etc/passwd": "passwd",
    "/etc/shadow": "shadow",
    "..\\..\\windows\\win.ini": "win.ini",
    "C:\\fakepath\\photo.jpg": "photo.jpg",
    "a/b/c.txt": "c.txt",
    "  spaced name.txt  ": "spaced name.txt",
    "tab\tand\nnewline.txt": "tabandnewline.txt",
    "bell\x07\x1b[31m.txt": "bell[31m.txt",
    "rtl\u202egnp.exe": "rtlgnp.exe",  # the right-to-left override that fakes extensions
    "zero\u200bwidth.txt": "zerowidth.txt",
    "e\u0301te\u0301.txt": "\u00e9t\u00e9.txt",  # NFD -> NFC
    "semi;colon&amp'quote\".txt": "semi;colon&amp'quote\".txt",  # legal characters are kept
    "emoji 🚀.txt": "emoji 🚀.txt",
    "ｅｖｉｌ．ｔｘｔ": "evil.txt",  # full width: NFKC folds it
    "ﬁle①.txt": "file1.txt",  # ligature, circled digit
    "．．／．．／etc／group": "group",  # a full-width solidus is a separator after folding
    "console.txt": "console.txt",  # only the exact device names are reserved
    "com10.txt": "com10.txt",
    "my con.txt": "my con.txt",
}
REFUSED = ["", "   ", ".", "..", "../", "a/..", ".hidden", ".disgrafs", "dir/.env", "\x00", "\x00\x01",
           "x" * 256, "é" * 128, "con", "CON.txt", "nul.tar.gz", "Aux", "prn.", "com1", "COM9.log", "lpt1.txt",
           "lpt9", "ＣＯＮ．ｔｘｔ", "nul .txt", "com¹.txt", "C:\\fakepath\\aux.c", "\ufffd.txt",
           "‥"]


@pytest.mark.parametrize("raw,stored", SANITIZED.items())
def test_sanitize(raw, stored):
    assert sanitize_name(raw) == stored


@pytest.mark.parametrize("raw", REFUSED)
def test_refuse(raw):
    with pytest.raises(BadName):
        sanitize_name(raw)


def test_length_limit_is_in_utf8_bytes():
    assert sanitize_name("x" * 255) == "x" * 255
    assert sanitize_name("é" * 127) == "é" * 127  # 254 bytes
    with pytest.raises(BadName):
        sanitize_name("é" * 128)  # 256 bytes


def test_numbered_names_stay_within_the_limit():
    assert numbered("report.pdf", 2) == "report (2).pdf"
    assert numbered("README", 3) == "README (3)"
    assert numbered(".tar", 2) == ".tar (2)"
    long = "y" * 251 + ".txt"
    assert len(numbered(long, 12).encode()) <= 255 and numbered(long, 12).endswith(" (12).txt")


def _everything_under(root):
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


def test_hostile_names_over_http_stay_inside_the_data_dir(server, tmp_path):
    outside_before = _everything_under(server.data.parent)
    for raw, stored in SANITIZED.items():
        body = f"content of {raw!r}".encode()
        r = server.upload(raw, body)
        assert r.status == 201, (raw, r)
        assert r.json()["name"] == stored
        assert (server.data / stored).read_bytes() == body
    for raw in REFUSED:
        r = server.upload(raw, b"nope") if raw else server.request(
            "POST", "/api/files?name=", body=b"nope", auth=True)
        assert r.status == 400, (raw, r)
        assert r.json()["error"] in ("bad_name", "bad_request")
    # every stored file is a direct child of the data dir; nothing appeared elsewhere
    for name in os.listdir(server.data):
        if not name.startswith("."):
            assert os.path.isfile(server.data / name)
    new_outside = {p for p in _everything_under(server.data.parent) - outside_before
                   if not p.startswith("data" + os.sep) and not p.endswith(".log")}
    assert new_outside == set()
    assert not os.path.exists("/etc/passwd.txt")


def test_names_in_multipart_and_query_get_the_same_treatment(server):
    boundary = "nb"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"../../../tmp/escape.txt\"\r\n\r\nescaped?\r\n--{boundary}--\r\n").encode()
    r = server.request("POST", "/api/files", body=body, auth=True,
                       headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert r.status == 201 and r.json()["name"] == "escape.txt"
    assert (server.data / "escape.txt").exists()


def test_nfc_and_nfd_spellings_are_one_name(server):
    nfc = unicodedata.normalize("NFC", "café-menu.txt")
    nfd = unicodedata.normalize("NFD", "café-menu.txt")
    assert nfc != nfd
    server.upload_ok(nfc, b"one")
    r = server.upload(nfd, b"two")
    assert r.status == 409
    assert (server.data / nfc).read_bytes() == b"one"


def test_percent_encoded_traversal_in_the_query(server):
    r = server.request("POST", "/api/files?name=" + urllib.parse.quote("../../../../../tmp/pwn.txt", safe=""),
                       body=b"x", auth=True)
    assert r.status == 201 and r.json()["name"] == "pwn.txt"
    assert (server.data / "pwn.txt").exists()


def test_ids_in_paths_are_not_paths(server):
    for bad in ("..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "x' OR 1=1 --", "') DETACH DELETE f //"):
        r = server.get(f"/api/files/{urllib.parse.quote(bad, safe='%')}/content")
        assert r.status == 404, (bad, r)
        assert r.json()["error"] == "not_found"


# raw name -> the rule its refusal names
RULES = {
    "": "empty", "  \t ": "empty", ".": "dot", "..": "dot", ".hidden": "hidden", "x" * 256: "length",
    "con.txt": "windows-reserved", "LPT3": "windows-reserved", "\udcff.txt": "encoding", "%ff\ufffd": "encoding",
    "a/": "path", "dir/.env": "hidden", "a/..": "dot",
}


@pytest.mark.parametrize("raw,rule", RULES.items())
def test_every_refusal_names_its_rule(raw, rule):
    with pytest.raises(BadName) as info:
        sanitize_name(raw)
    assert info.value.rule == rule
    assert f"rule '{rule}'" in str(info.value)


def test_a_dropped_directory_is_named_in_the_message():
    """The issue's case: the part after the last '/' is '.txt'. The message must
    say that the directory part was dropped, not only that dot names are reserved."""
    with pytest.raises(BadName) as info:
        sanitize_name("' OR 1=1 //.txt")
    message = str(info.value)
    assert "names starting with '.' are reserved" not in message
    assert "rule 'path'" in message and "'.txt'" in message and "rule 'hidden'" in message


def test_rejections_over_http_carry_the_rule(server):
    for raw, rule in (("con.txt", "windows-reserved"), ("' OR 1=1 //.txt", "hidden"), (".env", "hidden")):
        r = server.upload(raw, b"x")
        assert r.status == 400, r
        body = r.json()
        assert body["error"] == "bad_name" and body["rule"] == rule and f"rule '{rule}'" in body["message"]
    assert server.upload_ok("ｆｕｌｌ．ｔｘｔ", b"folded")["name"] == "full.txt"
    assert (server.data / "full.txt").read_bytes() == b"folded"
