"""`disgrafs serve` and `disgrafs token`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from .config import ConfigError, ensure_token, load_config

_SERVE_FLAGS = [
    # (flag, setting, help)
    ("--data", "data", "data directory: a plain directory or the JuiceFS mount (DISGRAFS_DATA; default ./data)"),
    ("--host", "host", "address to listen on (DISGRAFS_HOST; default 127.0.0.1)"),
    ("--port", "port", "port, 0 = any free one (DISGRAFS_PORT; default 8080)"),
    ("--graph", "graph", "graph backend: ladybug (embedded) or neo4j (DISGRAFS_GRAPH)"),
    ("--graph-path", "graph_path", "ladybug database file (default DATA/.disgrafs/graph.lbdb)"),
    ("--neo4j-uri", "neo4j_uri", "Bolt URI (DISGRAFS_NEO4J_URI; password only via DISGRAFS_NEO4J_PASSWORD[_FILE])"),
    ("--neo4j-user", "neo4j_user", "Neo4j user (DISGRAFS_NEO4J_USER; default neo4j)"),
    ("--neo4j-database", "neo4j_database", "Neo4j database (DISGRAFS_NEO4J_DATABASE; default neo4j)"),
    ("--token-file", "token_file", "where the write token is kept (DISGRAFS_TOKEN_FILE; "
                                   "default ~/.config/disgrafs/token; DISGRAFS_TOKEN overrides)"),
    ("--max-upload", "max_upload", "upload size limit, e.g. 512M, 16GiB (DISGRAFS_MAX_UPLOAD; default 16GiB)"),
    ("--upload-idle-timeout", "upload_idle_timeout",
     "seconds an upload may send nothing before it is dropped, 0 = never (DISGRAFS_UPLOAD_IDLE_TIMEOUT; default 60)"),
    ("--max-uploads-per-client", "max_uploads_per_client",
     "uploads in progress per client address, 0 = no limit (DISGRAFS_MAX_UPLOADS_PER_CLIENT; default 32)"),
    ("--reconcile-interval", "reconcile_interval",
     "seconds between scans of the data directory for files changed behind the server's back, "
     "0 = only at start (DISGRAFS_RECONCILE_INTERVAL; default 5)"),
    ("--tagger-executor", "tagger_executor", "process (default), thread or ray (DISGRAFS_TAGGER_EXECUTOR)"),
    ("--tagger-workers", "tagger_workers", "parallel tagging jobs (DISGRAFS_TAGGER_WORKERS; default 1)"),
    ("--tag-timeout", "tag_timeout", "seconds one file may take to tag (DISGRAFS_TAG_TIMEOUT; default 120)"),
    ("--taggers", "taggers", "comma-separated taggers to run (DISGRAFS_TAGGERS; default all)"),
    ("--ray-address", "ray_address", "Ray cluster address for --tagger-executor ray (DISGRAFS_RAY_ADDRESS)"),
    ("--ray-start-timeout", "ray_start_timeout",
     "seconds to connect to Ray before giving up (DISGRAFS_RAY_START_TIMEOUT; default 60)"),
    ("--log-level", "log_level", "debug, info, warning (DISGRAFS_LOG_LEVEL; debug adds an access log)"),
]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="disgrafs", description="DisGraFS server: a graph file system over HTTP")
    sub = p.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server")
    token = sub.add_parser("token", help="print the write token (generating it if needed)")
    for cmd in (serve, token):
        cmd.add_argument("--config", help="TOML file with settings (DISGRAFS_CONFIG)")
    for flag, dest, help_ in _SERVE_FLAGS:
        serve.add_argument(flag, dest=dest, help=help_)
    token.add_argument("--token-file", dest="token_file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    command = args.pop("command")
    try:
        cfg = load_config(args)
    except ConfigError as exc:
        print(f"disgrafs: configuration error: {exc}", file=sys.stderr)
        return 2
    if command == "token":
        token, generated = ensure_token(cfg)
        print(token)
        if generated:
            print(f"(generated and stored in {cfg.token_file})", file=sys.stderr)
        return 0

    logging.basicConfig(level=cfg.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The neo4j driver logs a notification per query at INFO: keep the journal readable.
    logging.getLogger("neo4j.notifications").setLevel(max(logging.WARNING, logging.root.level))
    from .server import serve

    try:
        asyncio.run(serve(cfg))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # start-up failures: say what and stop
        logging.getLogger("disgrafs").debug("start-up failed", exc_info=True)
        print(f"disgrafs: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
