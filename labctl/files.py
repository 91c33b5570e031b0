"""Small file helpers: nothing half-written is ever left behind."""

import json
import os


def write_atomic(path: str, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def remove(*paths: str) -> None:
    """Remove files; a missing one is fine."""
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def write_json(path: str, data: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_atomic(path, json.dumps(data, sort_keys=True) + "\n")


def read_json(path: str) -> dict:
    """The JSON object in `path`, or {} when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return "(no log)"
