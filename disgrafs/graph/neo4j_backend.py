"""Neo4j backend over Bolt with the official driver (Neo4j 5 or newer).

Same queries as the embedded backend (see base.py); only the schema (unique
constraints and indexes instead of node tables), transactions and result
conversion are Neo4j's own.
"""

from __future__ import annotations

from .base import GraphError, GraphStore

SCHEMA = [
    "CREATE CONSTRAINT disgrafs_file_id IF NOT EXISTS FOR (f:File) REQUIRE f.id IS UNIQUE",
    "CREATE CONSTRAINT disgrafs_tag_key IF NOT EXISTS FOR (t:Tag) REQUIRE t.key IS UNIQUE",
    "CREATE INDEX disgrafs_file_name IF NOT EXISTS FOR (f:File) ON (f.name)",
    "CREATE INDEX disgrafs_file_created IF NOT EXISTS FOR (f:File) ON (f.created)",
    "CREATE INDEX disgrafs_file_status IF NOT EXISTS FOR (f:File) ON (f.tag_status)",
    "CREATE INDEX disgrafs_tag_name IF NOT EXISTS FOR (t:Tag) ON (t.name)",
]


class Neo4jGraph(GraphStore):
    backend = "neo4j"

    def __init__(self, uri: str, user: str, password: str, database: str = "neo4j"):
        self.uri, self.user, self.database = uri, user, database
        self._password = password
        self._driver = None

    def open(self) -> None:
        import neo4j

        self._neo4j = neo4j
        try:
            self._driver = neo4j.GraphDatabase.driver(self.uri, auth=(self.user, self._password))
            self._driver.verify_connectivity()
            for statement in SCHEMA:
                self._driver.execute_query(statement, database_=self.database)
        except (neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError, OSError) as exc:
            if self._driver is not None:
                self._driver.close()
                self._driver = None
            raise GraphError(f"cannot use Neo4j at {self.uri} as {self.user!r}: {exc}") from None

    def close(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    def _errors(self):
        return (self._neo4j.exceptions.Neo4jError, self._neo4j.exceptions.DriverError)

    def _read(self, query: str, params: dict | None = None) -> list[dict]:
        try:
            records, _, _ = self._driver.execute_query(
                query, params or {}, database_=self.database,
                routing_=self._neo4j.RoutingControl.READ,
            )
        except self._errors() as exc:
            raise GraphError(str(exc)) from exc
        return [r.data() for r in records]

    def _tx(self, work):
        def unit(tx):
            return work(lambda query, params=None: tx.run(query, params or {}).data())

        try:
            with self._driver.session(database=self.database) as session:
                # execute_write retries the whole unit on transient errors.
                return session.execute_write(unit)
        except self._errors() as exc:
            raise GraphError(str(exc)) from exc

    def clear(self) -> None:
        """Remove every File and Tag (tests only)."""
        self._write([("MATCH (f:File) DETACH DELETE f", {}), ("MATCH (t:Tag) DETACH DELETE t", {})])
