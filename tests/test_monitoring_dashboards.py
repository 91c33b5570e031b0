"""The Grafana dashboards of roles/monitoring: every panel's query is PromQL.

With LAB_PROMETHEUS_URL set (e.g. http://10.231.77.10:9090, the lab's
Prometheus), each query goes to its /api/v1/query: a parse error is a 400.
Otherwise each query becomes a recording rule in a temporary file and
`promtool check rules` parses it (promtool has no parser-only command).
promtool comes from Debian's prometheus package: .ci/deps-monitoring.sh.
"""

import glob
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ROLE = f"{REPO}/roles/monitoring"
DASHBOARDS = sorted(glob.glob(f"{ROLE}/files/grafana/dashboards/*.json"))
RULES = f"{ROLE}/files/disgrafs-lab.rules.yml"
DATASOURCE_UID = "disgrafs-lab-prometheus"


def _missing_promtool():
    """make test installs promtool (.ci/deps-monitoring.sh): there this must run."""
    (pytest.fail if os.environ.get("CI") else pytest.skip)(
        "promtool is not installed: run .ci/deps-monitoring.sh (as root)")


def panels(dashboard: dict):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # rows


def queries() -> list[tuple[str, str]]:
    out = []
    for path in DASHBOARDS:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
        for panel in panels(dash):
            for target in panel.get("targets", []):
                out.append((f"{os.path.basename(path)}: {panel['title']} ({target['refId']})", target["expr"]))
    return out


def recorded() -> set:
    with open(RULES, encoding="utf-8") as f:
        return {r["record"] for g in yaml.safe_load(f)["groups"] for r in g["rules"] if "record" in r}


def test_there_are_the_four_dashboards():
    names = {os.path.basename(p) for p in DASHBOARDS}
    assert names == {"lab-overview.json", "bypass.json", "redis-latency.json", "storage-io.json"}


@pytest.mark.parametrize("path", DASHBOARDS, ids=os.path.basename)
def test_dashboard_is_provisionable(path):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)
    assert dash["uid"].startswith("disgrafs-lab-") and dash["title"]
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids)), f"{path}: repeated panel ids"
    for panel in panels(dash):
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID


def test_the_datasource_has_the_dashboards_uid():
    with open(f"{ROLE}/templates/grafana-datasource.yml.j2", encoding="utf-8") as f:
        assert f"uid: {DATASOURCE_UID}" in f.read()


def test_recorded_series_the_dashboards_read_exist():
    """A name with colons is a recording rule's: it must be in the rules file."""
    rules = recorded()
    for where, expr in queries():
        for word in expr.replace("(", " ").replace(")", " ").replace("/", " ").split():
            name = word.split("{")[0]
            if name.count(":") >= 2:
                assert name in rules, f"{where}: {name} is not recorded by {RULES}"


def test_every_panel_query_parses_as_promql(tmp_path):
    url = os.environ.get("LAB_PROMETHEUS_URL")
    if url:
        for where, expr in queries():
            query = urllib.parse.urlencode({"query": expr})
            try:
                with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=10) as resp:
                    assert json.load(resp)["status"] == "success", where
            except urllib.error.HTTPError as exc:
                pytest.fail(f"{where}: {expr}\n{exc.read().decode(errors='replace')}")
        return
    promtool = shutil.which("promtool")
    if not promtool:
        _missing_promtool()
    rules = [{"record": f"dashboard:query:{i}", "expr": expr} for i, (_, expr) in enumerate(queries())]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout


def test_recording_rules_pass_promtool():
    promtool = shutil.which("promtool")
    if not promtool:
        _missing_promtool()
    proc = subprocess.run([promtool, "check", "rules", RULES], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
