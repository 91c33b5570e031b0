"""The OpenAPI 3.1 description of the HTTP API, served at /openapi.json.

Kept by hand next to the routes; tests/disgrafs/test_api.py checks that every
route of the server is documented here and nothing else is.
"""

from __future__ import annotations

from . import __version__


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema, description="OK"):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description):
    return _json(_ref("Error"), description)


def _q(name, description, schema=None, required=False):
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}, "description": "File id"}
OFFSET = _q("offset", "Items to skip", {"type": "integer", "minimum": 0, "default": 0})


def LIMIT(default, maximum=1000):
    return _q("limit", "Page size", {"type": "integer", "minimum": 1, "maximum": maximum, "default": default})


AUTH = [{"bearer": []}]
ERRORS = {"400": _error("Bad input"), "503": _error("The graph database is unavailable")}


def _page(item):
    return {"type": "object", "required": ["items", "total", "offset", "limit"],
            "properties": {"items": {"type": "array", "items": item}, "total": {"type": "integer"},
                           "offset": {"type": "integer"}, "limit": {"type": "integer"}}}


def openapi_document(cfg=None) -> dict:
    max_upload = cfg.max_upload if cfg is not None else None
    upload_desc = (
        "Stream one file into the store. Either a raw body with `?name=` (any Content-Type but "
        "multipart; `curl -X POST -T FILE 'URL?name=NAME'`) or `multipart/form-data` with one file "
        "part. The body is written to a temporary file while its sha256 is computed, fsync'd and "
        "then linked under its name, which never replaces an existing file. Send "
        "`Expect: 100-continue` to be refused (401/413) before sending the body."
        + (f" Size limit: {max_upload} bytes." if max_upload else "")
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "DisGraFS server", "version": __version__,
                 "description": "Files on a POSIX file system, linked to tags in a graph database: "
                                "(:File)-[:TAGGED]->(:Tag). Writes need the bearer token; reads are open."},
        "paths": {
            "/api/files": {
                "get": {"summary": "List files", "operationId": "listFiles",
                        "parameters": [OFFSET, LIMIT(50),
                                       _q("sort", "Sort key", {"enum": ["created", "name", "size"], "default": "created"}),
                                       _q("order", "Direction", {"enum": ["asc", "desc"], "default": "desc"})],
                        "responses": {"200": _json(_page(_ref("FileWithTags"))), **ERRORS}},
                "post": {"summary": "Upload a file", "operationId": "uploadFile", "description": upload_desc,
                         "security": AUTH,
                         "parameters": [_q("name", "File name (required for a raw body; overrides the part's filename)"),
                                        _q("conflict", "What to do if the name exists: fail (409) or rename to 'name (2).ext'",
                                           {"enum": ["fail", "rename"], "default": "fail"})],
                         "requestBody": {"required": True, "content": {
                             "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                             "multipart/form-data": {"schema": {"type": "object", "properties": {
                                 "file": {"type": "string", "format": "binary"}}}}}},
                         "responses": {"201": _json(_ref("FileWithTags"), "Stored; tagging is queued"),
                                       "400": _error("Bad name or request"), "401": _error("Missing or wrong token"),
                                       "409": _error("The name exists (conflict=fail)"),
                                       "408": _error("The client sent nothing for upload_idle_timeout seconds"),
                                       "413": _error("Larger than the size limit"),
                                       "415": _error("A Content-Encoding was sent: files are stored as sent"),
                                       "429": _error("This client has max_uploads_per_client uploads in progress"),
                                       "503": _error("The graph database is unavailable"),
                                       "507": _error("No space left")}},
            },
            "/api/files/{id}": {
                "get": {"summary": "A file's metadata, tags and tagging status", "operationId": "getFile",
                        "parameters": [ID],
                        "responses": {"200": _json(_ref("FileWithTags")), "404": _error("No such file")}},
                "delete": {"summary": "Delete a file and its graph node (and tags left without files)",
                           "operationId": "deleteFile", "security": AUTH, "parameters": [ID],
                           "responses": {"204": {"description": "Deleted"}, "401": _error("Missing or wrong token"),
                                         "404": _error("No such file"), **ERRORS}},
            },
            "/api/files/{id}/content": {
                "get": {"summary": "Download (sendfile; supports Range, HEAD, If-None-Match)",
                        "operationId": "downloadFile",
                        "parameters": [ID, _q("inline", "1 = Content-Disposition: inline", {"enum": ["0", "1"]}),
                                       {"name": "Range", "in": "header", "required": False,
                                        "schema": {"type": "string"}, "description": "bytes=START-END (one range)"}],
                        "responses": {"200": {"description": "The content",
                                              "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                                      "206": {"description": "Partial content"},
                                      "404": _error("No such file"),
                                      "416": {"description": "Range not satisfiable"}}},
            },
            "/api/files/{id}/retag": {
                "post": {"summary": "Queue the file for tagging again", "operationId": "retagFile",
                         "security": AUTH, "parameters": [ID],
                         "responses": {"202": _json({"type": "object"}, "Queued"),
                                       "401": _error("Missing or wrong token"), "404": _error("No such file")}},
            },
            "/api/files/{id}/related": {
                "get": {"summary": "Files sharing tags, ranked (rare tags weigh more)", "operationId": "relatedFiles",
                        "parameters": [ID, LIMIT(10)],
                        "responses": {"200": _json({"type": "object", "properties": {
                            "id": {"type": "string"}, "items": {"type": "array", "items": _ref("Related")}}}),
                            "404": _error("No such file")}},
            },
            "/api/search": {
                "get": {"summary": "Search files", "operationId": "search",
                        "description": "by=tag: files carrying all the comma-separated tags; by=keyword: all "
                                       "the words as content keywords; by=name: the name contains all the "
                                       "words; by=any: any word in the name or as a tag, more matches first.",
                        "parameters": [_q("q", "The query", required=True),
                                       _q("by", "Search kind", {"enum": ["any", "tag", "name", "keyword"], "default": "any"}),
                                       OFFSET, LIMIT(50)],
                        "responses": {"200": _json(_page(_ref("FileWithTags"))), **ERRORS}},
            },
            "/api/tags": {
                "get": {"summary": "Tags with the number of files carrying them", "operationId": "listTags",
                        "parameters": [_q("kind", "Only this kind (keyword, type, ext, size, format, camera...)"),
                                       _q("prefix", "Names starting with this"), OFFSET, LIMIT(100)],
                        "responses": {"200": _json(_page(_ref("TagCount")))}},
            },
            "/api/suggest": {
                "get": {"summary": "Search-box suggestions: tags and file names starting with q",
                        "operationId": "suggest", "parameters": [_q("q", "Prefix"), LIMIT(10, 50)],
                        "responses": {"200": _json({"type": "object"})}},
            },
            "/api/graph": {
                "get": {"summary": "The newest files and their tags as nodes and edges (for the web page)",
                        "operationId": "graph", "parameters": [LIMIT(150)],
                        "responses": {"200": _json({"type": "object", "properties": {
                            "nodes": {"type": "array"}, "edges": {"type": "array"}}})}},
            },
            "/healthz": {"get": {"summary": "Health of the graph and the data directory", "operationId": "health",
                                 "responses": {"200": _json({"type": "object"}), "503": _json({"type": "object"}, "Degraded")}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics",
                                 "responses": {"200": {"description": "Prometheus text format",
                                                       "content": {"text/plain": {}}}}}},
            "/openapi.json": {"get": {"summary": "This document", "operationId": "openapi",
                                      "responses": {"200": _json({"type": "object"})}}},
            "/": {"get": {"summary": "The web page", "operationId": "page",
                          "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}}}},
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "The write token (DISGRAFS_TOKEN or the token file)"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message", "status"],
                          "properties": {"error": {"type": "string", "description": "machine-readable code"},
                                         "message": {"type": "string"}, "status": {"type": "integer"},
                                         "rule": {"type": "string", "description": "for bad_name: the name rule "
                                                  "that refused it (encoding, path, empty, dot, hidden, "
                                                  "windows-reserved, length)"}}},
                "Tag": {"type": "object", "properties": {"name": {"type": "string"}, "kind": {"type": "string"}}},
                "TagCount": {"type": "object", "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                                                             "count": {"type": "integer"}}},
                "FileWithTags": {"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "size": {"type": "integer"},
                    "sha256": {"type": "string"}, "mime": {"type": "string"},
                    "created": {"type": "string", "format": "date-time"},
                    "tag_status": {"enum": ["pending", "running", "done", "failed"]},
                    "tag_error": {"type": "string"}, "tagged_at": {"type": "string"},
                    "tags": {"type": "array", "items": _ref("Tag")}}},
                "Related": {"type": "object", "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "size": {"type": "integer"},
                    "mime": {"type": "string"}, "score": {"type": "number"},
                    "shared": {"type": "array", "items": {"type": "string"}}}},
            },
        },
    }
