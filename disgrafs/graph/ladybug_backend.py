"""Embedded backend: LadybugDB (the maintained fork of Kuzu), a Cypher graph
database that lives in one file next to the data. Nothing to install or run."""

from __future__ import annotations

import threading
from pathlib import Path

from .base import GraphError, GraphStore

SCHEMA = [
    "CREATE NODE TABLE IF NOT EXISTS File(id STRING, name STRING, size INT64, sha256 STRING, "
    "mime STRING, created STRING, tag_status STRING, tag_error STRING, tagged_at STRING, "
    "PRIMARY KEY(id))",
    "CREATE NODE TABLE IF NOT EXISTS Tag(key STRING, name STRING, kind STRING, stems STRING, PRIMARY KEY(key))",
    "CREATE REL TABLE IF NOT EXISTS TAGGED(FROM File TO Tag)",
    # databases made before Tag.stems existed
    "ALTER TABLE Tag ADD IF NOT EXISTS stems STRING",
]


class LadybugGraph(GraphStore):
    backend = "ladybug"

    def __init__(self, path: Path):
        self.path = Path(path)
        self._db = None
        self._conn = None
        # The server already calls from one thread; the lock keeps any other
        # caller (tests, tools) from interleaving statements of a transaction.
        self._lock = threading.RLock()

    def open(self) -> None:
        import ladybug

        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = ladybug.Database(str(self.path))
            self._conn = ladybug.Connection(self._db)
        except RuntimeError as exc:
            raise GraphError(
                f"cannot open the graph database {self.path}: {exc} "
                "(is another disgrafs server using this data directory?)"
            ) from None
        for statement in SCHEMA:
            self._conn.execute(statement)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._db.close()
                self._conn = self._db = None

    def _run(self, query: str, params: dict | None) -> list[dict]:
        result = self._conn.execute(query, params or {})
        columns = result.get_column_names()
        rows = []
        while result.has_next():
            rows.append(dict(zip(columns, result.get_next())))
        return rows

    def _read(self, query: str, params: dict | None = None) -> list[dict]:
        with self._lock:
            try:
                return self._run(query, params)
            except RuntimeError as exc:
                raise GraphError(str(exc)) from exc

    def _tx(self, work):
        with self._lock:
            self._conn.execute("BEGIN TRANSACTION")
            try:
                result = work(self._run)
            except BaseException as exc:
                try:
                    self._conn.execute("ROLLBACK")
                except RuntimeError:
                    pass  # the engine already rolled back after the failed statement
                if isinstance(exc, RuntimeError):
                    raise GraphError(str(exc)) from exc
                raise
            self._conn.execute("COMMIT")
            return result

    def clear(self) -> None:
        """Remove every File and Tag (tests only)."""
        self._write([("MATCH (f:File) DETACH DELETE f", {}), ("MATCH (t:Tag) DETACH DELETE t", {})])
