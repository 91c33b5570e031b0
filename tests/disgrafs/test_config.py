"""Configuration precedence, sizes, the token file, and the CLI."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from disgrafs.config import ConfigError, ensure_token, load_config, parse_size


def test_parse_size():
    assert parse_size("1048576") == 1048576
    assert parse_size("512M") == 512 * 1024**2
    assert parse_size("10GiB") == 10 * 1024**3
    assert parse_size("1g") == 1024**3 and parse_size("4 KiB") == 4096
    for bad in ("", "ten", "1.5G", "-1", "5X"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_precedence_file_env_cli(tmp_path):
    cfg_file = tmp_path / "disgrafs.toml"
    cfg_file.write_text('port = 9000\nhost = "0.0.0.0"\nmax_upload = "1G"\ntagger_workers = 3\n')
    env = {"DISGRAFS_CONFIG": str(cfg_file), "DISGRAFS_PORT": "9100"}
    cfg = load_config({"port": None, "data": str(tmp_path / "d")}, environ=env)
    assert (cfg.port, cfg.host, cfg.max_upload, cfg.tagger_workers) == (9100, "0.0.0.0", 1024**3, 3)
    cfg = load_config({"port": "9200"}, environ=env)
    assert cfg.port == 9200
    assert cfg.ladybug_path == Path("data") / ".disgrafs" / "graph.lbdb"


def test_bad_settings_are_named(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="unknown settings.*colour"):
        load_config({"config": str(bad)}, environ={})
    with pytest.raises(ConfigError, match="port"):
        load_config({"port": "http"}, environ={})
    with pytest.raises(ConfigError, match="tagger_executor"):
        load_config({}, environ={"DISGRAFS_TAGGER_EXECUTOR": "gpu"})


def test_neo4j_password_from_file(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    cfg = load_config({"graph": "neo4j"}, environ={"DISGRAFS_NEO4J_PASSWORD_FILE": str(pw)})
    assert cfg.neo4j_password == "s3cret"
    assert "s3cret" not in repr(cfg)


def test_token_generated_once_with_private_mode(tmp_path):
    cfg = load_config({"token_file": str(tmp_path / "conf" / "token")}, environ={})
    token, generated = ensure_token(cfg)
    assert generated and len(token) >= 32
    assert stat.S_IMODE((tmp_path / "conf" / "token").stat().st_mode) == 0o600
    assert ensure_token(cfg) == (token, False)
    cfg.token = "from-env"
    assert ensure_token(cfg) == ("from-env", False)


def test_cli_token_and_errors(tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path))
    env.pop("DISGRAFS_TOKEN", None)
    out = subprocess.run([sys.executable, "-m", "disgrafs", "token"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and "generated" in out.stderr
    assert out.stdout.strip() == (tmp_path / "disgrafs" / "token").read_text().strip()
    again = subprocess.run([sys.executable, "-m", "disgrafs", "token"], env=env, capture_output=True, text=True)
    assert again.stdout == out.stdout and "generated" not in again.stderr
    bad = subprocess.run([sys.executable, "-m", "disgrafs", "serve", "--port", "x"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "configuration error: port" in bad.stderr
