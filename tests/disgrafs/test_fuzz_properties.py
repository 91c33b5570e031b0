"""Property tests with hypothesis (derandomized: CI runs the same examples each
time, and no example database is written): any name is stored as
sanitize_name() says or refused naming its rule, any Authorization header is
a clean 401, any Range header a clean 200/206/416."""

from __future__ import annotations

import os
import tempfile
import urllib.parse

import pytest

# hypothesis keeps caches in ./.hypothesis by default: not in the checkout
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "disgrafs-hypothesis"))

if os.environ.get("CI"):
    import hypothesis  # noqa: F401 - CI must run these: install the 'test' extra
else:
    pytest.importorskip("hypothesis", reason="pip install -e '.[test]'")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from disgrafs.names import BadName, sanitize_name  # noqa: E402
from test_fuzz import check_response, send_raw  # noqa: E402

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    from conftest import Server

    srv = Server(tmp_path_factory.mktemp("fuzz") / "data", "--max-upload", "64K").start()
    yield srv
    srv.stop()


@FUZZ
@given(name=st.text(st.characters(codec="utf-8"), min_size=0, max_size=300))
def test_any_name_is_stored_as_sanitized_or_refused(fuzz_server, name):
    srv = fuzz_server
    r = srv.request("POST", "/api/files?conflict=rename&name=" + urllib.parse.quote(name, safe=""),
                    body=b"hypothesis", auth=True)
    try:
        expected = sanitize_name(name)
    except BadName as exc:
        expected, rule = None, exc.rule
    if not name:
        assert r.status == 400 and r.json()["error"] == "bad_request", r
    elif expected is None:
        assert r.status == 400, (name, r)
        body = r.json()
        assert body["error"] == "bad_name" and body["rule"] == rule and f"rule '{rule}'" in body["message"]
    else:
        assert r.status == 201, (name, r)
        stored = r.json()["name"]
        assert stored == expected or stored.startswith(expected.rsplit(".", 1)[0][:200])
        assert "/" not in stored and (srv.data / stored).is_file()
        assert (srv.data / stored).parent == srv.data


@FUZZ
@given(value=st.binary(min_size=0, max_size=200).filter(lambda b: b"\r" not in b and b"\n" not in b))
def test_any_authorization_header_is_a_clean_401(fuzz_server, value):
    raw = (b"POST /api/files?name=auth-fuzz.txt HTTP/1.1\r\nHost: f\r\nConnection: close\r\n"
           b"Authorization: Bearer " + value + b"\r\nContent-Length: 1\r\n\r\nx")
    status = check_response(repr(value), send_raw(fuzz_server.port, raw))
    assert status in (400, 401), (value, status)


@FUZZ
@given(rng=st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60))
def test_any_range_header(fuzz_server, rng):
    srv = fuzz_server
    if not hasattr(srv, "range_target"):
        srv.range_target = srv.upload_ok("range-target.bin", bytes(range(256)))["id"]
    raw = (f"GET /api/files/{srv.range_target}/content HTTP/1.1\r\nHost: f\r\nConnection: close\r\n"
           f"Range: {rng}\r\n\r\n").encode("latin-1")
    status = check_response(repr(rng), send_raw(srv.port, raw))
    assert status in (200, 206, 400, 416), (rng, status)
