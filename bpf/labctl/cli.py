"""labctl command line: `labctl status`, `labctl attach sockredir`, ...

Every command prints a short human summary, or JSON with --json (what the
Ansible roles and the tests read).

Programs register here (PROGRAMS). sockredir keeps its own options; the
suite's programs (redis_latency, http_filter, xdp_cpumap, afxdp) share the
same attach/detach/build/status commands and add their own commands through
their module's `register(sub, parents)` (e.g. `labctl redis-latency`).
"""

import argparse
import importlib
import json
import sys

from . import analysis, sockredir, system
from .errors import LabError

# The suite's modules, in the order `status` shows them. Each provides NAME,
# OVERRIDES, load_settings, build, attach, detach, status, describe and
# optionally prometheus() and register().
SUITE_MODULES = ("redis_latency", "http_filter", "xdp_cpumap", "afxdp")
SUITE = {}
for _name in SUITE_MODULES:
    try:
        SUITE[_name] = importlib.import_module(f".{_name}", __package__)
    except ModuleNotFoundError as _exc:  # a module not installed on this host
        if _exc.name != f"{__package__}.{_name}":
            raise

PROGRAMS = {"sockredir": sockredir, **SUITE}


def _port_list(text: str) -> list[int]:
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected comma-separated port numbers") from None


def _settings(args) -> sockredir.Settings:
    config = args.config
    if config is None or getattr(args, "program", None) not in (None, "sockredir"):
        config = sockredir.CONFIG_FILE
    return sockredir.load_settings(
        config_file=config,
        cgroup=args.cgroup, ports=args.ports, pin_root=args.pin_root,
        build_dir=args.build_dir,
        trace=None if args.trace is None else args.trace == "on",
        allow_root_cgroup=args.allow_root_cgroup or None)


def suite_settings(module, args, config_file=None):
    """Settings of a suite program: defaults < its config file < arguments."""
    overrides = {name: getattr(args, name, None) for name in module.OVERRIDES}
    if config_file is None and getattr(args, "program", None) == module.NAME:
        config_file = args.config  # --config names the file of the program given
    if config_file is None:
        config_file = f"{args.config_dir}/{module.NAME}.json"
    return module.load_settings(config_file, **overrides)


def _print(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return
    for name, info in result.items() if "name" not in result else [(result["name"], result)]:
        if name == "changed":
            continue
        if name in SUITE:
            print(SUITE[name].describe(info))
            continue
        if name == "analysis":
            print("analysis: " + ", ".join(f"{t} {p or 'MISSING'}" for t, p in info["tools"].items()))
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


def _suite_status(module, args) -> dict:
    try:
        return module.status(suite_settings(module, args, config_file=None))
    except LabError as exc:  # one broken program must not hide the others
        return {"name": module.NAME, "loaded": False, "error": str(exc)}


def cmd_status(args) -> int:
    result = {}
    if args.program in (None, "sockredir"):
        result["sockredir"] = sockredir.status(_settings(args))
    for name, module in SUITE.items():
        if args.program in (None, name):
            result[name] = _suite_status(module, args)
    if args.program is None:  # the analysis tools: nothing attached, tool paths
        result["analysis"] = analysis.status()
    _print(result, args.json)
    return 0


def cmd_build(args) -> int:
    if args.program in SUITE:
        module = SUITE[args.program]
        obj, changed = module.build(suite_settings(module, args), force=args.force)
    else:
        obj, changed = sockredir.build(_settings(args), force=args.force)
    _print_simple({"object": obj, "changed": changed}, args.json)
    return 0


def cmd_attach(args) -> int:
    if args.program in SUITE:
        module = SUITE[args.program]
        _print(module.attach(suite_settings(module, args)), args.json)
        return 0
    _print(sockredir.attach(_settings(args)), args.json)
    return 0


def cmd_detach(args) -> int:
    if args.program in SUITE:
        module = SUITE[args.program]
        _print(module.detach(suite_settings(module, args)), args.json)
        return 0
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


def cmd_metrics(args) -> int:
    """Prometheus text exposition of every attached suite program."""
    print(metrics_text(args), end="")
    return 0


def metrics_text(args) -> str:
    parts = []
    for module in SUITE.values():
        if hasattr(module, "prometheus"):
            try:
                parts.append(module.prometheus(suite_settings(module, args, config_file=None)))
            except LabError as exc:
                parts.append(f"# {module.NAME}: {exc}\n")
    return "".join(parts)


def cmd_exporter(args) -> int:
    """Serve /metrics over HTTP (Prometheus scrapes it)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics here")
                return
            body = metrics_text(args).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    host, _, port = args.listen.rpartition(":")
    server = ThreadingHTTPServer((host or "0.0.0.0", int(port)), Handler)
    print(f"labctl exporter: http://{args.listen}/metrics", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _print_simple(result: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")


def _suite_options() -> argparse.ArgumentParser:
    """Options of the suite's programs (each program reads the ones it has)."""
    opts = argparse.ArgumentParser(add_help=False)
    g = opts.add_argument_group("suite programs (redis_latency, http_filter, xdp_cpumap, afxdp)")
    g.add_argument("--config-dir", default="/etc/disgrafs-lab",
                   help="where the suite's NAME.json settings live (default: %(default)s)")
    g.add_argument("--pid", type=int, help="redis_latency: redis-server pid (0: find it)")
    g.add_argument("--process", help="redis_latency: process name to find (redis-server)")
    g.add_argument("--port", type=int, help="redis_latency: redis port to pick the process by; "
                   "http_filter: the DisGraFS HTTP port; afxdp: the UDP service port")
    g.add_argument("--interface", help="http_filter, xdp_cpumap, afxdp: the lab interface")
    g.add_argument("--mode", choices=("native", "generic"), help="xdp_cpumap, afxdp: XDP mode")
    g.add_argument("--weights", help="xdp_cpumap: CPU weights, e.g. 0:1,1:3")
    g.add_argument("--balance", choices=("flow", "packet"),
                   help="xdp_cpumap: per flow (hash) or per packet (random)")
    g.add_argument("--udp-port", type=int, dest="udp_port",
                   help="xdp_cpumap: only UDP to this port is spread (0: all IPv4)")
    g.add_argument("--queue", type=int, help="afxdp: the interface queue to bind")
    g.add_argument("--run-dir", dest="run_dir", help="http_filter, afxdp: pid/state directory "
                   "(default /run/disgrafs-lab)")
    g.add_argument("--log-file", dest="log_file", help="http_filter: the request log "
                   "(default /var/log/disgrafs-lab/http_filter.log)")
    return opts


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument("--config", default=None,
                        help="settings written by the role (default: "
                             f"{sockredir.CONFIG_FILE}, or /etc/disgrafs-lab/PROGRAM.json)")
    common.add_argument("--pin-root", help=f"bpffs directory (default {sockredir.DEFAULT_PIN_ROOT})")
    common.add_argument("--build-dir", help=f"where objects are built (default {sockredir.DEFAULT_BUILD_DIR})")
    common.add_argument("--cgroup", help="sockredir: cgroup v2 directory, absolute or relative to the "
                        f"cgroup2 mount (default {sockredir.DEFAULT_CGROUP})")
    common.add_argument("--ports", type=_port_list, help="sockredir: comma-separated port allowlist "
                        f"(default {','.join(map(str, sockredir.DEFAULT_PORTS))})")
    common.add_argument("--trace", choices=("on", "off"), help="sockredir: trace_pipe line per connection")
    common.add_argument("--allow-root-cgroup", action="store_true",
                        help="sockredir: permit attaching to the root cgroup (the whole machine)")
    suite_opts = _suite_options()
    parents = [common, suite_opts]

    top = argparse.ArgumentParser(prog="labctl", description="disgrafs-lab eBPF programs")
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("status", parents=parents, help="what is loaded, attached and pinned")
    p.add_argument("program", nargs="?", choices=sorted(PROGRAMS), help="only this program")
    p.set_defaults(func=cmd_status)
    for name, func, text in (("build", cmd_build, "compile a program (CO-RE)"),
                             ("attach", cmd_attach, "load, pin and attach a program"),
                             ("detach", cmd_detach, "detach and unpin a program")):
        p = sub.add_parser(name, parents=parents, help=text)
        p.add_argument("program", choices=sorted(PROGRAMS))
        if name == "build":
            p.add_argument("--force", action="store_true", help="rebuild even if up to date")
        p.set_defaults(func=func)
    p = sub.add_parser("trace", help="stream trace_pipe lines of a program")
    p.add_argument("program", choices=sorted(PROGRAMS))
    p.set_defaults(func=cmd_trace)
    p = sub.add_parser("metrics", parents=parents,
                       help="Prometheus text exposition of the suite's programs")
    p.set_defaults(func=cmd_metrics, program=None)
    p = sub.add_parser("exporter", parents=parents, help="serve the metrics over HTTP")
    p.add_argument("--listen", default="127.0.0.1:9435", help="address:port (default %(default)s)")
    p.set_defaults(func=cmd_exporter, program=None)
    for module in SUITE.values():
        if hasattr(module, "register"):
            module.register(sub, parents)
    analysis.register(sub, parents)
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
