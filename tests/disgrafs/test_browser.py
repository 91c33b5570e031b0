"""The web page in Debian's headless Chromium, driven by npm playwright-core
(tests/disgrafs/browser/page_test.mjs does the clicking; this starts the server
and checks its verdict). Setup: .ci/deps-disgrafs.sh (apt chromium, npm ci)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import samples

HERE = Path(__file__).parent / "browser"
CHROMIUM = os.environ.get("DISGRAFS_TEST_CHROMIUM", "/usr/bin/chromium")


@pytest.mark.browser
def test_page_in_chromium(make_server, tmp_path):
    missing = [what for what, ok in [
        (f"{CHROMIUM} (apt-get install chromium)", os.access(CHROMIUM, os.X_OK)),
        ("node (apt-get install nodejs)", shutil.which("node")),
        (f"{HERE}/node_modules/playwright-core (npm ci in {HERE})", (HERE / "node_modules" / "playwright-core").is_dir()),
    ] if not ok]
    assert not missing, "browser test prerequisites missing, run .ci/deps-disgrafs.sh: " + ", ".join(missing)

    srv = make_server()
    samples.write_samples(tmp_path / "samples")
    shot = os.environ.get("DISGRAFS_SCREENSHOT", str(tmp_path / "page.png"))
    proc = subprocess.run(
        ["node", str(HERE / "page_test.mjs"), "--url", f"http://127.0.0.1:{srv.port}/", "--token", srv.token,
         "--samples", str(tmp_path / "samples"), "--screenshot", shot, "--chromium", CHROMIUM],
        cwd=HERE, capture_output=True, text=True, timeout=150)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no verdict from the browser script (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    verdict = json.loads(lines[-1])
    assert verdict["ok"], json.dumps(verdict, indent=1) + "\n" + proc.stderr[-3000:] + "\n" + srv.log()[-3000:]
    assert proc.returncode == 0
    assert Path(shot).stat().st_size > 10_000
    seen = verdict["seen"]
    assert seen["graph"]["files"] == 7 and seen["graph"]["tags"] > 20
    assert {"paper.pdf", "notes.md"} <= set(seen["search_graph"])
    # what the page did went through the real server
    names = srv.names()
    assert "photo.jpg" not in names and {"paper.pdf", "trace.log"} <= set(names)
