"""What every benchmark does with its report: bench/results/NAME.json and
NAME.md (printed too)."""

import json
import os
import sys


def require_root(why: str = "it loads eBPF programs") -> None:
    if os.geteuid() != 0:
        sys.exit(f"bench: run as root ({why})")


def save(report: dict, out_dir: str, name: str, write_markdown) -> str:
    """Write NAME.json and NAME.md (write_markdown(report, path)) into
    out_dir, print the Markdown; returns the Markdown's path."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2)
    markdown = os.path.join(out_dir, f"{name}.md")
    write_markdown(report, markdown)
    with open(markdown, encoding="utf-8") as f:
        print(f.read())
    return markdown
