"""labctl: build, attach, inspect and detach the disgrafs-lab eBPF programs.

The standard library, prometheus_client (python3-prometheus-client in every
supported distro) and the distro's bpftool: it runs with a lab host's own
python3 (3.9 or newer) without a venv. Layout: docs/architecture.md.
"""

__version__ = "0.2.0"
