"""labctl: load, attach, inspect and detach the disgrafs-lab eBPF programs.

Standard library only (plus the distro's bpftool), so it runs with the lab
host's own python3 without a venv.
"""

__version__ = "0.1.0"
