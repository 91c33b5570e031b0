"""DisGraFS server: files on a POSIX file system, their tags in a graph database.

The server is the single entry point: users upload and download through it,
it tags each file off the request path and keeps the graph
``(:File)-[:TAGGED]->(:Tag)`` in sync with the files on disk.
"""

__version__ = "0.1.0"
