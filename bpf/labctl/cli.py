"""labctl command line: `labctl status`, `labctl attach sockredir`, ...

Every command prints a short human summary, or JSON with --json (what the
Ansible roles and the tests read).
"""

import argparse
import json
import sys

from . import sockredir, system
from .errors import LabError

PROGRAMS = {"sockredir": sockredir}


def _port_list(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated port numbers") from None


def _settings(args) -> sockredir.Settings:
    return sockredir.load_settings(
        config_file=args.config,
        cgroup=args.cgroup, ports=args.ports, pin_root=args.pin_root,
        build_dir=args.build_dir,
        trace=None if args.trace is None else args.trace == "on",
        allow_root_cgroup=args.allow_root_cgroup or None)


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    for name, info in result.items() if "name" not in result else [(result["name"], result)]:
        if name == "changed":
            continue
        if not info.get("loaded"):
            print(f"{name}: not loaded ({info.get('pin_path', '')})")
            continue
        progs = ", ".join(f"{p['name']} (id {p['id']})" for p in info["programs"])
        cgroups = ", ".join(info["attached_cgroups"]) or "NOT ATTACHED to any cgroup"
        print(f"{name}: loaded: {progs}\n  pinned under {info['pin_path']}\n"
              f"  sockops attached to: {cgroups}\n  sk_msg attached to: {info['msg_verdict_map']}\n"
              f"  allowlisted ports: {', '.join(map(str, info['allow_ports']))}\n"
              f"  trace_pipe lines: {'on' if info['trace'] else 'off'}")
        for counter, value in info["counters"].items():
            print(f"  {counter:>20}: {value}")
    if "changed" in result:
        print("changed" if result["changed"] else "unchanged (already in the requested state)")


def cmd_status(args) -> int:
    _print({"sockredir": sockredir.status(_settings(args))}, args.json)
    return 0


def cmd_build(args) -> int:
    obj, changed = sockredir.build(_settings(args), force=args.force)
    _print_simple({"object": obj, "changed": changed}, args.json)
    return 0


def cmd_attach(args) -> int:
    _print(sockredir.attach(_settings(args)), args.json)
    return 0


def cmd_detach(args) -> int:
    _print(sockredir.detach(_settings(args)), args.json)
    return 0


def cmd_trace(args) -> int:
    """Stream the kernel trace lines of our programs (Ctrl-C to stop)."""
    path = system.tracefs_dir() + "/trace_pipe"
    with open(path, encoding="utf-8", errors="replace") as pipe:
        for line in pipe:
            if f"{args.program}:" in line:
                print(line.rstrip(), flush=True)
    return 0


def _print_simple(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--config", default=sockredir.CONFIG_FILE,
                        help="settings written by the role (default: %(default)s)")
    common.add_argument("--pin-root", help=f"bpffs directory (default {sockredir.DEFAULT_PIN_ROOT})")
    common.add_argument("--build-dir", help=f"where objects are built (default {sockredir.DEFAULT_BUILD_DIR})")
    common.add_argument("--cgroup", help="cgroup v2 directory, absolute or relative to the "
                        f"cgroup2 mount (default {sockredir.DEFAULT_CGROUP})")
    common.add_argument("--ports", type=_port_list, help="comma-separated port allowlist "
                        f"(default {','.join(map(str, sockredir.DEFAULT_PORTS))})")
    common.add_argument("--trace", choices=("on", "off"), help="trace_pipe line per connection")
    common.add_argument("--allow-root-cgroup", action="store_true",
                        help="permit attaching to the root cgroup (the whole machine)")

    top = argparse.ArgumentParser(prog="labctl", description="disgrafs-lab eBPF programs")
    sub = top.add_subparsers(dest="command", required=True)
    sub.add_parser("status", parents=[common], help="what is loaded, attached and pinned"
                   ).set_defaults(func=cmd_status)
    for name, func, text in (("build", cmd_build, "compile a program (CO-RE)"),
                             ("attach", cmd_attach, "load, pin and attach a program"),
                             ("detach", cmd_detach, "detach and unpin a program")):
        p = sub.add_parser(name, parents=[common], help=text)
        p.add_argument("program", choices=sorted(PROGRAMS))
        if name == "build":
            p.add_argument("--force", action="store_true", help="rebuild even if up to date")
        p.set_defaults(func=func)
    p = sub.add_parser("trace", help="stream trace_pipe lines of a program")
    p.add_argument("program", choices=sorted(PROGRAMS))
    p.set_defaults(func=cmd_trace)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except LabError as exc:
        print(f"labctl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
