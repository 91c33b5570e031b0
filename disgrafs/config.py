"""Configuration: defaults < config file (TOML) < environment < command line.

Every setting has one name; the environment variable is ``DISGRAFS_`` + the
name in upper case and the command-line flag is ``--`` + the name with dashes.
The TOML file (``--config`` or ``DISGRAFS_CONFIG``) uses the plain names.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

try:  # Python 3.11+; the tomli backport on older distro Pythons (openEuler 22.03, Ubuntu 22.04)
    import tomllib  # novermin (guarded: tomli below)
except ModuleNotFoundError:  # pragma: no cover - depends on the interpreter
    import tomli as tomllib


class ConfigError(Exception):
    """A setting has a bad value; the message says which and why."""


_SIZE_RE = re.compile(r"^\s*(\d+)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """'1048576', '512M', '10GiB', '1g' -> bytes (binary multiples)."""
    if isinstance(text, int):
        return text
    m = _SIZE_RE.match(str(text))
    if not m:
        raise ValueError(f"not a size: {text!r} (use e.g. 1048576, 512M, 10GiB)")
    number, unit = int(m.group(1)), m.group(2).lower()
    return number * 1024 ** "_kmgt".index(unit) if unit else number


def _default_token_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "disgrafs" / "token"


@dataclass
class Config:
    # where the files live (a plain directory or the JuiceFS mount point)
    data: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8080
    # graph backend: "ladybug" (embedded, default) or "neo4j"
    graph: str = "ladybug"
    graph_path: Path | None = None  # ladybug database file; default DATA/.disgrafs/graph.lbdb
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    neo4j_user: str = "neo4j"
    neo4j_password: str = field(default="", repr=False)
    neo4j_database: str = "neo4j"
    # write access
    token: str = field(default="", repr=False)
    token_file: Path = field(default_factory=_default_token_file)
    max_upload: int = 16 * 1024**3
    upload_idle_timeout: float = 60.0  # seconds without a byte of an upload's body before it is dropped
    max_uploads_per_client: int = 32  # uploads in progress per client address (0 = no limit)
    # files created, changed or deleted directly in the data directory (another
    # JuiceFS client) are found by a scan this often, in seconds (0 = only at start)
    reconcile_interval: float = 5.0
    # tagging
    tagger_executor: str = "process"  # process | thread | ray
    tagger_workers: int = 1
    tag_timeout: float = 120.0
    taggers: str = ""  # comma-separated tagger names; empty = all registered
    ray_address: str = ""  # "" lets ray.init() decide (RAY_ADDRESS or a local cluster)
    ray_start_timeout: float = 60.0  # seconds to connect to (or start) Ray before giving up
    log_level: str = "info"

    @property
    def state_dir(self) -> Path:
        """Server-private state inside the data directory (same file system as the files)."""
        return self.data / ".disgrafs"

    @property
    def ladybug_path(self) -> Path:
        return self.graph_path or (self.state_dir / "graph.lbdb")

    def validate(self) -> None:
        if self.graph not in ("ladybug", "neo4j"):
            raise ConfigError(f"graph must be 'ladybug' or 'neo4j', not {self.graph!r}")
        if self.tagger_executor not in ("process", "thread", "ray"):
            raise ConfigError(
                f"tagger_executor must be process, thread or ray, not {self.tagger_executor!r}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port out of range: {self.port}")
        if self.max_upload <= 0:
            raise ConfigError("max_upload must be positive")
        if self.tagger_workers < 1:
            raise ConfigError("tagger_workers must be at least 1")
        if self.upload_idle_timeout < 0:
            raise ConfigError("upload_idle_timeout must be 0 (no limit) or a number of seconds")
        if self.max_uploads_per_client < 0:
            raise ConfigError("max_uploads_per_client must be 0 (no limit) or positive")
        if self.reconcile_interval < 0:
            raise ConfigError("reconcile_interval must be 0 (only at start) or a number of seconds")
        if self.tag_timeout <= 0 or self.ray_start_timeout <= 0:
            raise ConfigError("tag_timeout and ray_start_timeout must be positive")
        if self.graph == "neo4j" and not self.neo4j_password:
            raise ConfigError(
                "graph=neo4j needs a password: set DISGRAFS_NEO4J_PASSWORD "
                "(or neo4j_password in the config file)"
            )


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}
# Secrets are not accepted as command-line flags (they would show in `ps`).
SECRET_SETTINGS = {"token", "neo4j_password"}


def _coerce(name: str, value):
    kind = _FIELDS[name].type
    try:
        if name == "max_upload":
            return parse_size(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind in ("Path", "Path | None"):
            return Path(os.path.expanduser(str(value)))
        return str(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def load_config(cli: dict | None = None, environ: dict | None = None) -> Config:
    """Build the configuration. ``cli`` holds the flags that were given (None = not given)."""
    environ = os.environ if environ is None else environ
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    values: dict = {}

    config_file = cli.pop("config", None) or environ.get("DISGRAFS_CONFIG")
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                from_file = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from None
        unknown = set(from_file) - set(_FIELDS)
        if unknown:
            raise ConfigError(f"unknown settings in {config_file}: {', '.join(sorted(unknown))}")
        values.update(from_file)

    for name in _FIELDS:
        env = environ.get("DISGRAFS_" + name.upper())
        if env is not None and env != "":
            values[name] = env
    # A password can also come from a file (Docker/Ansible style secrets).
    pw_file = environ.get("DISGRAFS_NEO4J_PASSWORD_FILE")
    if pw_file and "neo4j_password" not in values:
        values["neo4j_password"] = Path(pw_file).read_text().strip()

    values.update(cli)
    cfg = Config(**{k: _coerce(k, v) for k, v in values.items()})
    cfg.validate()
    return cfg


def ensure_token(cfg: Config) -> tuple[str, bool]:
    """Return (token, generated). The token comes from the configuration, else from
    the token file, else it is generated and written there (mode 0600)."""
    if cfg.token:
        return cfg.token, False
    path = cfg.token_file
    try:
        token = path.read_text().strip()
        if token:
            return token, False
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        # link() fails if another process created the file meanwhile: keep theirs.
        os.link(tmp, path)
    except FileExistsError:
        return path.read_text().strip(), False
    finally:
        os.unlink(tmp)
    return token, True
