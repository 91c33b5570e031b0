"""labctl logic that needs no kernel: settings, bpftool JSON decoding, CLI errors."""

import json
import subprocess
import sys

import pytest

from lab_helpers import REPO
from labctl import bpftool, maps, programs
from labctl.programs import sockredir
from labctl.errors import LabError


def test_settings_precedence(tmp_path):
    config = tmp_path / "sockredir.json"
    config.write_text(json.dumps({"ports": [6379], "cgroup": "a.slice", "trace": False}))
    settings = sockredir.load_settings(str(config), cgroup="b.slice", ports=None)
    assert settings.cgroup == "b.slice"          # command line wins
    assert settings.ports == [6379]              # config file beats the default
    assert settings.trace is False
    assert settings.pin_dir == "/sys/fs/bpf/disgrafs-lab/sockredir"


def test_defaults_without_config(tmp_path):
    settings = sockredir.load_settings(str(tmp_path / "absent.json"))
    assert settings.ports == [6379, 7687, 8080]
    assert settings.cgroup == "disgrafs.slice"


@pytest.mark.parametrize("ports", [[], [0], [70000], ["6379"], [True]])
def test_bad_ports_are_rejected(tmp_path, ports):
    with pytest.raises(LabError, match="port"):
        sockredir.load_settings(str(tmp_path / "absent.json"), ports=ports)


def test_unknown_setting_is_named(tmp_path):
    config = tmp_path / "sockredir.json"
    config.write_text(json.dumps({"portz": [1]}))
    with pytest.raises(LabError, match="portz"):
        sockredir.load_settings(str(config))


def test_bpftool_entries_with_and_without_btf():
    raw = {"key": ["0x8b", "0x18", "0x00", "0x00"], "value": ["0x01"]}
    assert bpftool.entry_int(raw, "key") == 6283
    formatted = {"key": ["0x00"], "formatted": {"key": 6379}}
    assert bpftool.entry_int(formatted, "key") == 6379
    percpu_raw = {"values": [{"cpu": 0, "value": ["0x02"] + ["0x00"] * 7},
                             {"cpu": 1, "value": ["0x00", "0x01"] + ["0x00"] * 6}]}
    assert bpftool.percpu_sum(percpu_raw) == 2 + 256
    percpu_fmt = {"formatted": {"values": [{"cpu": 0, "value": 5}, {"cpu": 1, "value": 7}]}}
    assert bpftool.percpu_sum(percpu_fmt) == 12
    assert bpftool.hex_bytes(b"\x01\xff") == ["hex", "01", "ff"]


def test_stat_names_come_from_the_c_header():
    """labctl reads its counter names from enum stat_index in each program's
    header (bpf/NAME/NAME.h): no hand-kept copy."""
    assert maps.stat_names("sockredir") == ("sockets_added", "sockets_add_failed", "redirect_ok",
                                            "redirect_failed", "redirect_bytes")
    assert maps.stat_names("redis_latency") == ("requests", "replies", "not_request", "continuation",
                                                "name_too_long", "fd_too_big", "table_full", "read_fault")
    assert maps.stat_names("afxdp") == ("seen", "redirected", "no_socket", "passed")
    assert maps.stat_names("xdp_cpumap") == ("seen", "balanced", "not_matched", "redirect_failed")
    assert maps.stat_names("http_filter") == ("get", "post", "put", "delete", "head", "options",
                                              "patch", "request_bytes")


def test_stat_names_parse_a_header(tmp_path, monkeypatch):
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "demo.h").write_text(
        "/* counters */\nenum stat_index {\n\tSTAT_ONE = 0, /* first */\n\tSTAT_TWO_WORDS,\n"
        "\tSTAT_MAX,\n};\n")
    monkeypatch.setenv("LABCTL_BPF_DIR", str(tmp_path))
    maps.stat_names.cache_clear()
    try:
        assert maps.stat_names("demo") == ("one", "two_words")
    finally:
        maps.stat_names.cache_clear()


def test_every_program_implements_the_interface():
    """The CLI finds programs only through the registry; none imports the CLI."""
    found = programs.all_programs()
    assert list(found) == list(programs.ORDER)
    for name, module in found.items():
        assert module.NAME == name
        source = open(module.__file__, encoding="utf-8").read()
        assert "labctl.cli" not in source and "from ..cli" not in source, name
    assert "if program ==" not in open(f"{REPO}/labctl/cli.py", encoding="utf-8").read()


def test_metrics_escape_label_values():
    """prometheus_client escapes what a hand-written exposition missed."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.core import CounterMetricFamily

    class One:
        def collect(self):
            family = CounterMetricFamily("demo_total", "demo", labels=["command"])
            family.add_metric(['a"b\\c\nd'], 1)
            yield family
    registry = CollectorRegistry(auto_describe=False)
    registry.register(One())
    assert 'command="a\\"b\\\\c\\nd"' in generate_latest(registry).decode()


def labctl(*args):
    return subprocess.run([sys.executable, "-m", "labctl", *args], cwd=REPO,
                          capture_output=True, text=True, check=False)


def test_cli_bad_port_list_is_a_usage_error():
    proc = labctl("attach", "sockredir", "--ports", "http")
    assert proc.returncode == 2
    assert "comma-separated port numbers" in proc.stderr


def test_cli_unknown_program():
    proc = labctl("attach", "nosuchprog")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_cli_status_json_when_nothing_is_loaded(tmp_path):
    proc = labctl("status", "--json", "--config", "", "--pin-root", str(tmp_path / "none"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sockredir"]["loaded"] is False


def test_bpftrace_histogram_buckets_keep_ranges_whole():
    from labctl.programs.analysis import histogram_buckets
    text = ("@call_us:\n[0]                  3 |@@         |\n[1]   10 |@@@@|\n"
            "[2, 4)              17 |@@@@@@@@@@@@|\n[1K, 2K)             1 |@|\n")
    assert histogram_buckets(text) == {"[0]": 3, "[1]": 10, "[2, 4)": 17, "[1K, 2K)": 1}
