"""labctl command line: `labctl status`, `labctl attach sockredir`, ...

Every command prints a short human summary, or JSON with --json (what the
Ansible roles and the tests read). Programs come from the registry
(labctl/programs); this module knows none of them by name.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from . import course, exporter, programs, settings, system
from .errors import LabError

COMMON_OPTIONS = {
    "pin_root": {"help": f"bpffs directory (default {settings.DEFAULT_PIN_ROOT})"},
    "build_dir": {"help": f"where objects are built (default {settings.DEFAULT_BUILD_DIR})"},
    "source_dir": {"help": "build the program from this directory (a student's workspace) "
                           "instead of the lab's bpf/PROGRAM/"},
}


def settings_for(module, args, config_file: str | None = None):
    """A program's settings: defaults < its config file < options given.
    --config names the file of the program on the command line ("" = none)."""
    names = list(COMMON_OPTIONS) + list(module.OPTIONS)
    overrides = {name: getattr(args, name, None) for name in names}
    if getattr(args, "config", None) is not None and getattr(args, "program", None) == module.NAME:
        config_file = args.config
    if config_file is None:
        config_file = settings.config_path(module.NAME, getattr(args, "config_dir", settings.CONFIG_DIR))
    return module.load_settings(config_file, **overrides)


def _emit(result: dict, as_json: bool, human) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(human(result))


def _describe_all(result: dict) -> str:
    lines = []
    for name, info in result.items():
        if name in programs.ORDER:
            lines.append(programs.get(name).describe(info))
    if "changed" in result:
        lines.append("changed" if result["changed"] else "unchanged (already in the requested state)")
    return "\n".join(lines)


def _status_of(module, args) -> dict:
    try:
        return module.status(settings_for(module, args))
    except LabError as exc:  # one broken program must not hide the others
        return {"name": module.NAME, "loaded": False, "error": str(exc)}


def cmd_status(args) -> int:
    result = {name: _status_of(module, args) for name, module in programs.all_programs().items()
              if args.program in (None, name)}
    _emit(result, args.json, _describe_all)
    return 0


def cmd_build(args) -> int:
    names = list(programs.ORDER) if args.program == "all" else [args.program]
    built = {}
    for name in names:
        module = programs.get(name)
        obj, changed = module.build(settings_for(module, args), force=args.force)
        built[name] = {"object": obj, "changed": changed}
    result = built[names[0]] if len(names) == 1 else \
        {"programs": built, "changed": any(b["changed"] for b in built.values())}
    _emit(result, args.json, lambda r: "\n".join(f"{n}: {b['object']} ({'built' if b['changed'] else 'up to date'})"
                                                 for n, b in built.items()))
    return 0


def _change(func_name: str):
    def command(args) -> int:
        module = programs.get(args.program)
        result = getattr(module, func_name)(settings_for(module, args))
        _emit(result, args.json, lambda r: _describe_all({module.NAME: r, "changed": r["changed"]}))
        return 0
    return command


def cmd_run(args) -> int:
    module = programs.get(args.program)
    return module.run(settings_for(module, args))


def cmd_trace(args) -> int:
    """Stream the kernel trace lines of a program (Ctrl-C to stop)."""
    with open(system.tracefs_dir() + "/trace_pipe", encoding="utf-8", errors="replace") as pipe:
        for line in pipe:
            if f"{args.program}:" in line:
                print(line.rstrip(), flush=True)
    return 0


def _settings_of(args):
    return lambda module: settings_for(module, args)


def cmd_metrics(args) -> int:
    sys.stdout.write(exporter.text(_settings_of(args)))
    return 0


def cmd_exporter(args) -> int:
    exporter.serve(_settings_of(args), args.listen)
    return 0


def _program_options() -> argparse.ArgumentParser:
    """Every program's options, merged by name (--port means each program's
    own port); each program reads only the ones it declares."""
    opts = argparse.ArgumentParser(add_help=False)
    group = opts.add_argument_group("program options")
    merged: dict[str, dict] = {}
    helps: dict[str, list[str]] = {}
    for name, module in programs.all_programs().items():
        for option, spec in module.OPTIONS.items():
            merged.setdefault(option, {k: v for k, v in spec.items() if k != "help"})
            helps.setdefault(option, []).append(f"{name}: {spec.get('help', '')}")
    for option, spec in merged.items():
        group.add_argument("--" + option.replace("_", "-"), dest=option, default=None,
                           help="; ".join(helps[option]), **spec)
    return opts


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--config", default=None,
                        help=f"the program's settings file (default {settings.CONFIG_DIR}/PROGRAM.json; "
                             "\"\": none)")
    common.add_argument("--config-dir", default=settings.CONFIG_DIR,
                        help="where the programs' NAME.json settings live (default: %(default)s)")
    for option, spec in COMMON_OPTIONS.items():
        common.add_argument("--" + option.replace("_", "-"), dest=option, default=None, **spec)
    return common


def parser() -> argparse.ArgumentParser:
    parents = [_common_options(), _program_options()]
    names = list(programs.ORDER)
    top = argparse.ArgumentParser(prog="labctl", description="disgrafs-lab eBPF programs: "
                                  + "; ".join(f"{n}: {m.DESCRIPTION}" for n, m in programs.all_programs().items()))
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status", parents=parents, help="what is loaded, attached and pinned")
    p.add_argument("program", nargs="?", choices=names, help="only this program")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("build", parents=parents, help="compile a program (CO-RE), or all of them")
    p.add_argument("program", choices=names + ["all"])
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.set_defaults(func=cmd_build)
    for command, text in (("attach", "load, pin and attach a program"),
                          ("detach", "detach and unpin a program")):
        p = sub.add_parser(command, parents=parents, help=text)
        p.add_argument("program", choices=names)
        p.set_defaults(func=_change(command))
    p = sub.add_parser("clear", parents=parents, help="zero a program's counters or histograms")
    p.add_argument("program", choices=programs.with_hook("reset"))
    p.set_defaults(func=_change("reset"))
    course.register(sub, parents[:1])
    p = sub.add_parser("run", parents=parents,
                       help="run a program's daemon in the foreground (systemd units)")
    p.add_argument("program", choices=programs.with_hook("run"))
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("trace", help="stream trace_pipe lines of a program")
    p.add_argument("program", choices=names)
    p.set_defaults(func=cmd_trace)
    p = sub.add_parser("metrics", parents=parents, help="Prometheus text exposition of every program")
    p.set_defaults(func=cmd_metrics, program=None)
    p = sub.add_parser("exporter", parents=parents, help="serve the metrics over HTTP")
    p.add_argument("--listen", default="127.0.0.1:9435", help="address:port (default %(default)s)")
    p.set_defaults(func=cmd_exporter, program=None)
    for module in programs.all_programs().values():
        if hasattr(module, "register"):
            module.register(sub, parents)
    return top


def main(argv=None) -> int:
    logging.basicConfig(level=logging.WARNING, format="labctl: %(levelname)s: %(message)s")
    try:
        args = parser().parse_args(argv)
        if hasattr(args, "handler"):  # a program's own command: func(settings, args)
            return args.handler(settings_for(programs.get(args.program), args), args)
        return args.func(args)
    except LabError as exc:
        print(f"labctl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
