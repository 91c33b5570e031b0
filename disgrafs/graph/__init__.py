"""Graph backends behind one interface (:class:`GraphStore`)."""

from __future__ import annotations

from .base import DONE, FAILED, PENDING, RUNNING, FileRecord, GraphError, GraphStore, TagRecord

__all__ = ["open_graph", "GraphStore", "GraphError", "FileRecord", "TagRecord",
           "PENDING", "RUNNING", "DONE", "FAILED"]


def open_graph(cfg) -> GraphStore:
    """The backend the configuration names, opened and with its schema in place."""
    if cfg.graph == "neo4j":
        from .neo4j_backend import Neo4jGraph

        store: GraphStore = Neo4jGraph(cfg.neo4j_uri, cfg.neo4j_user, cfg.neo4j_password,
                                       cfg.neo4j_database)
    else:
        from .ladybug_backend import LadybugGraph

        store = LadybugGraph(cfg.ladybug_path)
    store.open()
    return store
