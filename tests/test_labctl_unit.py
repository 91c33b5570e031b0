"""labctl logic that needs no kernel: settings, bpftool JSON decoding, CLI errors."""

import json
import re
import subprocess
import sys

import pytest

from lab_helpers import REPO
from labctl import bpftool, sockredir
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


def test_stat_names_match_the_c_enum():
    """labctl's counter names must follow enum stat_index in the BPF source."""
    source = open(f"{REPO}/bpf/sockredir/sockredir.bpf.c", encoding="utf-8").read()
    enum = source[source.index("enum stat_index {"):source.index("STAT_MAX")]
    names = [re.match(r"\s*STAT_(\w+)", line).group(1).lower()
             for line in enum.splitlines()[1:] if line.strip().startswith("STAT_")]
    assert tuple(names) == sockredir.STAT_NAMES


def labctl(*args):
    return subprocess.run([sys.executable, "-m", "labctl", *args], cwd=f"{REPO}/bpf",
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
