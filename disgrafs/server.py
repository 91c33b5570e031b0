"""The HTTP server (aiohttp): API, downloads, the web page, start-up recovery."""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import hmac
import json
import logging
import os
import re
import signal
import stat
import time
import urllib.parse
import uuid
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import BodyPartReader, ClientPayloadError, web, web_server
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError
from aiohttp.web_urldispatcher import _default_expect_handler

from . import __version__
from .config import Config, ensure_token
from .graph import PENDING, RUNNING, FileRecord, GraphError, open_graph
from .graph.base import SORT_FIELDS
from .metrics import CONTENT_TYPE_LATEST, Metrics
from .ingest import Reconciler, signature
from .names import BadName, sanitize_name
from .openapi import openapi_document
from .storage import CONFLICT_POLICIES, FileStore, NameTaken, detect_mime
from .tagging.chinese import CJK
from .tagging.executors import make_executor
from .tagging.service import TaggingService

log = logging.getLogger("disgrafs")

STATIC_DIR = Path(__file__).parent / "static"
VENDOR_FILES = ["vendor/cytoscape.min.js"]
STATIC_FILES = {p.relative_to(STATIC_DIR).as_posix(): p for p in STATIC_DIR.rglob("*") if p.is_file()}
READ_CHUNK = 1024 * 1024
FLUSH_BYTES = 2 * 1024 * 1024
READ_BUFSIZE = 4 * 1024 * 1024
# aiohttp keeps an idle keep-alive connection for an hour by default: a client
# that opens many and sends nothing would hold as many descriptors.
KEEPALIVE_TIMEOUT = 75
SEARCH_KINDS = ("any", "tag", "name", "keyword")

PAGE_CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
# Downloaded content is never active in our origin, even when opened inline.
CONTENT_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'"

APP = web.AppKey("disgrafs", object)
# What a client that disconnects mid-body looks like from a handler.
CLIENT_GONE = (ConnectionError, asyncio.CancelledError, asyncio.IncompleteReadError, ClientPayloadError)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None,
                 extra: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}
        self.extra = extra or {}


def json_error(status: int, code: str, message: str, headers: dict | None = None,
               extra: dict | None = None) -> web.Response:
    return web.json_response(dict(extra or {}, error=code, message=message, status=status),
                             status=status, headers=headers)


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 408: "timeout", 409: "conflict", 411: "length_required",
               413: "too_large", 414: "uri_too_long", 415: "unsupported_media_type",
               416: "range_not_satisfiable", 417: "expectation_failed", 429: "too_many_requests",
               431: "headers_too_large", 500: "internal_error", 501: "not_implemented",
               503: "unavailable", 505: "http_version_not_supported", 507: "insufficient_storage"}


def _printable(text, limit: int = 160) -> str:
    """A parser's message about hostile input, safe and short for a JSON error:
    its first line (aiohttp appends the offending bytes on the next ones)."""
    if isinstance(text, HttpProcessingError):
        text = text.message or type(text).__name__
    text = str(text).strip().split("\n", 1)[0].strip().rstrip(":")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[:limit] + "..."


_REQUEST_LINE = re.compile(rb"^(/|[a-z]+://|[A-Z]+ )", re.IGNORECASE)


class JsonErrorRequestHandler(RequestHandler):
    """aiohttp answers requests its parser rejects (a bad request line, an
    over-long URL or header, ``Content-Length: abc``...) before any handler or
    middleware runs, in plain text. This handler answers them in the API's JSON
    error format, with the status that fits, and never with a traceback."""

    def handle_error(self, request, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if a response began
        if isinstance(exc, LineTooLong):
            line = bytes(exc.args[0]) if exc.args and isinstance(exc.args[0], (bytes, bytearray)) else b""
            url = bool(_REQUEST_LINE.match(line))  # the URL (or the whole request line)
            status, what = (414, "the request line (URL)") if url else (431, "a header line")
            text = f"{what} is longer than the server accepts (8190 bytes)"
        elif isinstance(exc, HttpProcessingError) and status < 500:
            if "too many headers" in str(exc).lower():
                status = 431
            text = f"malformed HTTP request: {_printable(exc)}"
        elif status == 500:
            text = "unexpected server error (see the server log)"
        else:
            text = _printable(message or getattr(exc, "message", "") or "bad request")
        resp = json_error(status, _HTTP_CODES.get(status, "error"), text)
        resp.force_close()
        return resp


class _JsonErrorServer(web_server.Server):
    def __call__(self) -> RequestHandler:
        return JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class Runner(web.AppRunner):
    async def _make_server(self) -> web_server.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer
        return server


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def content_disposition(name: str, inline: bool) -> str:
    """RFC 6266: an ASCII fallback plus the exact UTF-8 name (RFC 5987)."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    quoted = urllib.parse.quote(name, safe="")
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"


_FILE_ERRORS = {
    403: "this file cannot be served",
    404: "no such file",
    412: "a precondition (If-Match, If-Unmodified-Since) does not hold",
    416: "the Range header is malformed or outside the file (one range per request)",
}


class JsonFileResponse(web.FileResponse):
    """aiohttp's FileResponse decides 404/412/416 only while it is sent, and then
    sends an empty body labelled with the file's type. This one sends the
    API's JSON error instead."""

    _error_body: bytes | None = None

    async def _prepare_headers(self) -> None:
        if self.status >= 400 and self._error_body is None:
            message = _FILE_ERRORS.get(self.status, self.reason)
            self._error_body = json.dumps({"error": _HTTP_CODES.get(self.status, "error"),
                                           "message": message, "status": self.status}).encode()
            for header in ("Content-Disposition", "X-Content-SHA256", "Content-Encoding", "ETag",
                           "Last-Modified", "Accept-Ranges"):
                self.headers.popall(header, None)
            self.content_type = "application/json"
            self.charset = "utf-8"
            self.content_length = len(self._error_body)
        await super()._prepare_headers()

    async def prepare(self, request):
        writer = await super().prepare(request)
        if self._error_body is not None and request.method != "HEAD" and not self._eof_sent:
            await self.write(self._error_body)
        return writer


class StoredFileResponse(JsonFileResponse):
    """sendfile() with Range, but for stored files only.

    aiohttp's FileResponse serves "NAME.gz" instead of NAME when the client
    accepts gzip and such a file exists: right for static sites, wrong for a
    file system where "a.txt.gz" is an unrelated user file.
    """

    def __init__(self, path, on_sent=None, **kw):
        super().__init__(path, **kw)
        self._on_sent = on_sent

    def _get_file_path_stat_encoding(self, accept_encoding):
        st = self._path.lstat()  # and never through a symlink planted in the data dir
        return (self._path if stat.S_ISREG(st.st_mode) else None), st, None

    async def prepare(self, request):
        writer = await super().prepare(request)
        if self._on_sent and self.status in (200, 206) and request.method != "HEAD":
            self._on_sent(self.content_length or 0)
        return writer


class DisGraFS:
    """Holds the parts and implements the handlers."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.store = FileStore(cfg.data)
        self.metrics = Metrics()
        self.token, self.token_generated = ensure_token(cfg)
        # One thread talks to the graph: the embedded engine is used from one
        # thread, and ordering writes there keeps each file's changes serial.
        self._graph_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="graph")
        self._io = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="io")
        self.graph = None
        self.tagging: TaggingService | None = None
        self.reconciler: Reconciler | None = None
        self.started = time.time()
        self.uploads_by_client: dict[str, int] = {}

    # -- helpers --------------------------------------------------------------
    async def g(self, method: str, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._graph_thread, getattr(self.graph, method), *args)

    async def gcall(self, fn, *args):
        """Run ``fn(graph, *args)`` on the graph thread: a check and a write
        with nothing from the server in between."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._graph_thread, fn, self.graph, *args)

    async def io(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._io, fn, *args)

    def check_token(self, request: web.Request) -> None:
        auth = request.headers.get("Authorization", "")
        scheme, _, given = auth.partition(" ")
        if not auth:
            raise ApiError(401, "unauthorized", "this operation needs the write token: "
                           "send 'Authorization: Bearer TOKEN'", {"WWW-Authenticate": "Bearer"})
        # aiohttp decodes header bytes that are not UTF-8 into lone surrogates:
        # encode them back as they came instead of failing on them.
        given_bytes = given.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given_bytes, self.token.encode()):
            raise ApiError(401, "unauthorized", "the write token is wrong",
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})

    def check_length(self, request: web.Request) -> None:
        if request.content_length is not None and request.content_length > self.cfg.max_upload:
            raise ApiError(413, "too_large", f"the upload is larger than the limit of {self.cfg.max_upload} bytes")
        # A compressed body would be stored decompressed, and a truncated gzip
        # stream is not detected at its end: the file is stored as it is sent.
        if request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity"):
            raise ApiError(415, "unsupported_media_type", "uploads are stored as they are sent: "
                           "Content-Encoding is not supported (send the file itself, e.g. a .gz file as it is)")

    def _live(self, f: dict) -> dict:
        """The tagging status as of now: 'running' is known only to the queue."""
        if f["tag_status"] == PENDING and self.tagging.is_running(f["id"]):
            f["tag_status"] = RUNNING
        return f

    async def file_or_404(self, file_id: str) -> FileRecord:
        rec = await self.g("get_file", file_id)
        if rec is None:
            raise ApiError(404, "not_found", f"no file with id {file_id!r}")
        return rec

    # -- life cycle -----------------------------------------------------------
    async def startup(self) -> None:
        missing = [f for f in VENDOR_FILES if not (STATIC_DIR / f).is_file()]
        if missing:
            raise RuntimeError(f"web assets missing ({', '.join(missing)} in {STATIC_DIR}): "
                               "run `make web` (npm ci + copy), see disgrafs/README.md")
        dropped = await self.io(self.store.prepare)
        if dropped:
            log.info("removed %d unfinished upload(s) left by a previous run", dropped)
        loop = asyncio.get_running_loop()
        self.graph = await loop.run_in_executor(self._graph_thread, open_graph, self.cfg)
        self.reconciler = Reconciler(self)
        await self.recover()
        taggers = [t.strip() for t in self.cfg.taggers.split(",") if t.strip()]
        self.tagging = TaggingService(self.g, self.store, make_executor(self.cfg), taggers,
                                      self.cfg.tagger_workers, self.metrics)
        await self.tagging.start()
        for file_id in await self.g("files_with_status", [PENDING, RUNNING]):
            self.tagging.enqueue(file_id)
        self.metrics.files.set(await self.g("count_files"))
        self.reconciler.start(self.cfg.reconcile_interval)

    async def shutdown(self) -> None:
        if self.reconciler is not None:
            await self.reconciler.close()
        if self.tagging is not None:
            await self.tagging.close()
        if self.graph is not None:
            await self.g("close")
        self._graph_thread.shutdown()
        self._io.shutdown()

    async def recover(self) -> None:
        """Make the graph match the files after a crash or changes made behind
        the server's back: finish interrupted deletions, drop nodes whose file is
        gone, add nodes for files that have none, re-tag files whose size changed."""
        for moved in await self.io(self.store.interrupted_deletes):
            await self.g("delete_file", moved.name)
            await self.io(self.store.finish_delete, moved)
        on_disk = await self.io(self.store.scan)
        by_name: dict[str, dict] = {}
        removed = added = changed = 0
        for row in await self.g("all_files"):
            if row["name"] not in on_disk or row["name"] in by_name:
                await self.g("delete_file", row["id"])
                removed += 1
            else:
                by_name[row["name"]] = row
        for name, st in sorted(on_disk.items()):
            row = by_name.get(name)
            if row is not None and row["size"] == st.st_size:
                continue
            size, sha256, head = await self.io(self.store.hash_file, name)
            mime = detect_mime(name, head)
            if row is None:
                created = datetime.fromtimestamp(st.st_mtime, timezone.utc).isoformat(timespec="milliseconds")
                rec = FileRecord(uuid.uuid4().hex, name, size, sha256, mime, created.replace("+00:00", "Z"))
                await self.g("add_file", rec)
                added += 1
            else:
                await self.g("update_content", row["id"], size, sha256, mime)
                changed += 1
        await self.g("sweep_orphan_tags")
        filled = await self.g("fill_missing_stems")
        if filled:
            log.info("gave %d tag(s) from an older version their stems (for search)", filled)
        # what the periodic scan compares with from now on
        self.reconciler.snapshot = {name: signature(st) for name, st in on_disk.items()}
        if removed or added or changed:
            log.info("recovery: %d node(s) without file removed, %d file(s) added, %d changed",
                     removed, added, changed)

    # -- upload ---------------------------------------------------------------
    def check_client_uploads(self, request: web.Request) -> None:
        limit = self.cfg.max_uploads_per_client
        if limit and self.uploads_by_client.get(request.remote or "", 0) >= limit:
            raise ApiError(429, "too_many_uploads",
                           f"this client already has {limit} uploads in progress (max_uploads_per_client); "
                           "wait for one to finish", {"Retry-After": "5"})

    async def expect_upload(self, request: web.Request):
        """Answer 'Expect: 100-continue' only if the upload can be accepted, so a
        client is refused before it sends gigabytes."""
        try:
            self.check_token(request)
            self.check_length(request)
            self.check_client_uploads(request)
            return await _default_expect_handler(request)
        except ApiError as e:
            return json_error(e.status, e.code, e.message, e.headers)
        except web.HTTPException as e:  # an Expect other than 100-continue: 417
            return json_error(e.status, _HTTP_CODES.get(e.status, "error"), _printable(e.text or e.reason))

    async def _idle(self, request: web.Request, awaitable):
        """Await one read of the request body, at most upload_idle_timeout seconds."""
        timeout = self.cfg.upload_idle_timeout
        if not timeout:
            return await awaitable
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except asyncio.TimeoutError:
            raise ApiError(408, "timeout", f"no data from the client for {timeout:g} s "
                           "(upload_idle_timeout); the upload is dropped") from None

    async def upload(self, request: web.Request) -> web.Response:
        self.check_token(request)
        self.check_length(request)
        conflict = request.query.get("conflict", "fail")
        if conflict not in CONFLICT_POLICIES:
            raise ApiError(400, "bad_request", f"conflict must be one of {', '.join(CONFLICT_POLICIES)}")
        self.check_client_uploads(request)
        client = request.remote or ""
        self.uploads_by_client[client] = self.uploads_by_client.get(client, 0) + 1
        try:
            rec = await self._upload(request, conflict)
        finally:
            left = self.uploads_by_client.pop(client) - 1
            if left:
                self.uploads_by_client[client] = left
        self.metrics.uploads.labels(outcome="stored").inc()
        self.metrics.upload_bytes.inc(rec.size)
        body = dict(rec.to_dict(), tags=[])
        return web.json_response(body, status=201, headers={"Location": f"/api/files/{rec.id}"})

    async def _upload(self, request: web.Request, conflict: str) -> FileRecord:
        try:
            if request.content_type == "multipart/form-data":
                try:
                    return await self._upload_multipart(request, conflict)
                except BadName:
                    raise
                except LineTooLong:
                    raise ApiError(400, "bad_request", "malformed multipart body: a part header line is "
                                   "longer than 8190 bytes (a file name that long is refused anyway: "
                                   "names are at most 255 bytes)") from None
                except (ValueError, BadHttpMessage) as exc:  # aiohttp's words for a malformed multipart body
                    raise ApiError(400, "bad_request", f"malformed multipart body: {_printable(exc)}") from None
            name = request.query.get("name")
            if not name:
                raise ApiError(400, "bad_request", "give the file name as ?name=... "
                               "(or send multipart/form-data with a file part)")
            return await self._receive(lambda n: self._idle(request, request.content.read(n)),
                                       sanitize_name(name), conflict)
        except BadName as exc:
            self.metrics.uploads.labels(outcome="rejected").inc()
            raise ApiError(400, "bad_name", str(exc), extra={"rule": exc.rule}) from None
        except ApiError as exc:
            self.metrics.uploads.labels(outcome="timeout" if exc.status == 408 else "rejected").inc()
            raise
        except CLIENT_GONE:
            self.metrics.uploads.labels(outcome="interrupted").inc()
            log.info("upload to %s interrupted by the client; nothing kept", request.path_qs)
            raise
        except RequestPayloadError as exc:  # bad chunked framing or Content-Encoding
            if request.transport is None or request.transport.is_closing():
                self.metrics.uploads.labels(outcome="interrupted").inc()
                raise ConnectionResetError("the client went away") from None
            self.metrics.uploads.labels(outcome="rejected").inc()
            cause = exc.__cause__ or (exc.args[0] if exc.args else exc)
            raise ApiError(400, "bad_request", f"malformed request body: {_printable(cause)}") from None
        except BaseException:  # disk or graph failed
            self.metrics.uploads.labels(outcome="failed").inc()
            raise

    async def _upload_multipart(self, request: web.Request, conflict: str) -> FileRecord:
        idle = lambda aw: self._idle(request, aw)  # noqa: E731
        reader = await request.multipart()

        async def next_part():
            nxt = await idle(reader.next())
            if nxt is not None and not isinstance(nxt, BodyPartReader):
                raise ApiError(400, "bad_request", "malformed multipart body: nested multipart parts are "
                               "not supported; send the file as a plain part")
            return nxt

        part = await next_part()
        while part is not None and part.filename is None:
            await idle(part.release())  # ignore plain form fields
            part = await next_part()
        if part is None:
            raise ApiError(400, "bad_request", "the form has no file part")
        name = sanitize_name(request.query.get("name") or part.filename)

        async def more_files() -> bool:
            nxt = await next_part()
            while nxt is not None:
                if nxt.filename is not None:
                    return True
                await idle(nxt.release())
                nxt = await next_part()
            return False

        return await self._receive(lambda n: idle(part.read_chunk(n)), name, conflict, before_publish=more_files)

    async def _receive(self, read, name: str, conflict: str, before_publish=None) -> FileRecord:
        """Stream the body into a temporary file (hashing on the way), then commit."""
        sink = await self.io(self.store.new_upload)
        try:
            buf, size = bytearray(), 0
            while True:
                chunk = await read(READ_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.cfg.max_upload:
                    raise ApiError(413, "too_large",
                                   f"the upload is larger than the limit of {self.cfg.max_upload} bytes")
                buf += chunk
                if len(buf) >= FLUSH_BYTES:
                    # a three-stage pipeline: hash and write this buffer on two
                    # threads while the event loop receives the next one
                    await self._drain(sink)
                    sink.inflight = (self._io.submit(sink.hash, buf), self._io.submit(sink.write, buf))
                    buf = bytearray()
            await self._drain(sink)
            if len(buf) > 256 * 1024:
                await asyncio.gather(self.io(sink.hash, buf), self.io(sink.write, buf))
            elif buf:
                sink.hash(buf)  # small: cheaper here than a thread hop
                await self.io(sink.write, buf)
            await self.io(sink.finish)
            if before_publish is not None and await before_publish():
                raise ApiError(400, "bad_request", "send one file per request")
            # From here on the upload is complete: finish even if the client goes
            # away (the temporary file must not be removed under the commit).
            commit = asyncio.ensure_future(self._commit(sink, name, conflict))
            try:
                return await asyncio.shield(commit)
            except asyncio.CancelledError:
                await asyncio.wait([commit])
                raise
        finally:
            sink.discard()  # no-op after a successful publish

    @staticmethod
    async def _drain(sink) -> None:
        if sink.inflight:
            await asyncio.gather(*(asyncio.wrap_future(job) for job in sink.inflight))
            sink.inflight = ()

    async def _commit(self, sink, name: str, conflict: str) -> FileRecord:
        mime = detect_mime(name, sink.head)
        try:
            stored = await self.io(self.store.publish, sink, name, conflict)
        except NameTaken:
            raise ApiError(409, "name_taken", f"a file named {name!r} exists; delete it first or "
                           "upload with ?conflict=rename") from None
        rec = FileRecord(uuid.uuid4().hex, stored, sink.size, sink.sha256.hexdigest(), mime, utcnow())
        try:
            await self.g("add_file", rec)
        except BaseException:
            await self.io(self.store.unpublish, stored)
            raise
        finally:
            self.store.publishing.discard(stored)
        self.metrics.files.inc()
        self.tagging.enqueue(rec.id)
        return rec

    # -- files ----------------------------------------------------------------
    async def list_files(self, request: web.Request) -> web.Response:
        offset, limit = _page(request)
        sort = request.query.get("sort", "created")
        order = request.query.get("order", "desc")
        if sort not in SORT_FIELDS or order not in ("asc", "desc"):
            raise ApiError(400, "bad_request", f"sort is one of {', '.join(SORT_FIELDS)}; order is asc or desc")
        items, total = await self.g("list_files", offset, limit, sort, order == "desc")
        tags = await self.g("tags_of", [r.id for r in items])
        return web.json_response({"items": [self._live(dict(r.to_dict(), tags=tags[r.id])) for r in items],
                                  "total": total, "offset": offset, "limit": limit})

    async def get_file(self, request: web.Request) -> web.Response:
        rec = await self.file_or_404(request.match_info["id"])
        tags = await self.g("tags_of", [rec.id])
        return web.json_response(self._live(dict(rec.to_dict(), tags=tags[rec.id])))

    async def download(self, request: web.Request) -> web.StreamResponse:
        rec = await self.file_or_404(request.match_info["id"])
        path = self.store.path(rec.name)
        if not await self.io(_is_regular_file, path):
            raise ApiError(404, "content_missing", f"the content of {rec.name!r} is missing on disk")
        inline = request.query.get("inline") in ("1", "true", "yes")
        headers = {
            "Content-Type": rec.mime or "application/octet-stream",
            "Content-Disposition": content_disposition(rec.name, inline),
            "Content-Security-Policy": CONTENT_CSP,
            "Cache-Control": "private, no-cache",
            "X-Content-SHA256": rec.sha256,
        }
        return StoredFileResponse(path, on_sent=self.metrics.download_bytes.inc, headers=headers)

    async def delete(self, request: web.Request) -> web.Response:
        self.check_token(request)
        rec = await self.file_or_404(request.match_info["id"])
        self.store.deleting_names.add(rec.name)
        try:
            moved = await self.io(self.store.begin_delete, rec.name, rec.id)
            try:
                deleted = await self.g("delete_file", rec.id)
            except BaseException:
                await self.io(self.store.abort_delete, moved, rec.name)
                raise
        finally:
            self.store.deleting_names.discard(rec.name)
        await self.io(self.store.finish_delete, moved)
        if not deleted:
            raise ApiError(404, "not_found", f"no file with id {rec.id!r}")
        self.metrics.deletes.inc()
        self.metrics.files.dec()
        return web.Response(status=204)

    async def retag(self, request: web.Request) -> web.Response:
        self.check_token(request)
        rec = await self.file_or_404(request.match_info["id"])
        await self.g("set_status", rec.id, PENDING, "")
        self.tagging.enqueue(rec.id)
        return web.json_response({"id": rec.id, "tag_status": PENDING}, status=202)

    async def related(self, request: web.Request) -> web.Response:
        rec = await self.file_or_404(request.match_info["id"])
        _, limit = _page(request, default_limit=10)
        return web.json_response({"id": rec.id, "items": await self.g("related", rec.id, limit)})

    # -- search ---------------------------------------------------------------
    async def search(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "").strip()
        by = request.query.get("by", "any")
        if by not in SEARCH_KINDS:
            raise ApiError(400, "bad_request", f"by is one of {', '.join(SEARCH_KINDS)}")
        if not q:
            raise ApiError(400, "bad_request", "give a query: ?q=...")
        offset, limit = _page(request)
        if by == "tag":  # tags can contain spaces ("canon eos 5d"): commas separate them
            terms = [t.strip() for t in q.split(",")]
        else:
            terms = q.replace(",", " ").split()
            if by in ("any", "keyword"):
                terms = await self._split_cjk(terms)
        items, total = await self.g("search", terms, by, offset, limit)
        tags = await self.g("tags_of", [r["id"] for r in items])
        for r in items:
            r["tags"] = tags[r["id"]]
            self._live(r)
        return web.json_response({"items": items, "total": total, "offset": offset, "limit": limit,
                                  "query": {"q": q, "by": by, "terms": [t.lower() for t in terms if t]}})

    async def _split_cjk(self, terms: list[str]) -> list[str]:
        """A Chinese query has no spaces ("进程调度"); the tags were cut into words
        by jieba ("进程", "调度"). The query's words are found among the
        keyword tags it contains (longest first, no overlaps), so the server
        needs no segmenter of its own."""
        out = []
        for term in terms:
            if not CJK.search(term):
                out.append(term)
                continue
            found = sorted(await self.g("tags_inside", term), key=len, reverse=True)
            taken = [False] * len(term)
            spans = []
            folded = term.lower()
            for name in found:
                start = folded.find(name)
                while start >= 0 and any(taken[start:start + len(name)]):
                    start = folded.find(name, start + 1)
                if start >= 0:
                    taken[start:start + len(name)] = [True] * len(name)
                    spans.append((start, name))
            out.extend(name for _, name in sorted(spans)) if spans else out.append(term)
        return out

    async def tags(self, request: web.Request) -> web.Response:
        offset, limit = _page(request, default_limit=100)
        kind = request.query.get("kind", "")
        prefix = request.query.get("prefix", "").lower()
        items, total = await self.g("tags", kind, prefix, offset, limit)
        return web.json_response({"items": items, "total": total, "offset": offset, "limit": limit})

    async def suggest(self, request: web.Request) -> web.Response:
        q = request.query.get("q", "").strip()
        _, limit = _page(request, default_limit=10, max_limit=50)
        items = await self.g("suggest", q, limit) if q else []
        return web.json_response({"q": q, "items": items})

    async def graph_view(self, request: web.Request) -> web.Response:
        _, limit = _page(request, default_limit=150, max_limit=1000)
        return web.json_response(await self.g("graph", limit))

    # -- operations -----------------------------------------------------------
    async def healthz(self, request: web.Request) -> web.Response:
        checks = {}
        try:
            checks["graph"] = "ok" if await asyncio.wait_for(self.g("ping"), 5) else "failed"
        except Exception as exc:
            checks["graph"] = f"failed: {exc}"
        writable = await self.io(os.access, self.store.tmp, os.W_OK)
        checks["storage"] = "ok" if writable else "failed: data directory not writable"
        ok = all(v == "ok" for v in checks.values())
        body = {"status": "ok" if ok else "degraded", "version": __version__, "backend": self.cfg.graph,
                "checks": checks, "tagging": self.tagging.stats(),
                "ingest": {"interval_seconds": self.cfg.reconcile_interval, "scans": self.reconciler.passes},
                "uptime_seconds": round(time.time() - self.started, 1)}
        return web.json_response(body, status=200 if ok else 503)

    async def metrics_view(self, request: web.Request) -> web.Response:
        self.metrics.tag_queue.set(self.tagging.queue.qsize())
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(openapi_document(self.cfg))

    async def index(self, request: web.Request) -> web.StreamResponse:
        return JsonFileResponse(STATIC_DIR / "index.html",
                                headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})

    async def static(self, request: web.Request) -> web.StreamResponse:
        """The page's assets: only the files shipped in disgrafs/static, by exact
        relative path (no path is ever resolved from what the client sent)."""
        path = STATIC_FILES.get(request.match_info["path"])
        if path is None:
            raise ApiError(404, "not_found", "no such asset")
        return JsonFileResponse(path, headers={"Cache-Control": "no-cache"})


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _page(request: web.Request, default_limit: int = 50, max_limit: int = 1000) -> tuple[int, int]:
    def number(key, default, lo, hi):
        raw = request.query.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, "bad_request", f"{key} must be an integer") from None
        if not lo <= value <= hi:
            raise ApiError(400, "bad_request", f"{key} must be between {lo} and {hi}")
        return value

    return number("offset", 0, 0, 10**9), number("limit", default_limit, 1, max_limit)


# -- middlewares ----------------------------------------------------------------
@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except ApiError as e:
        resp = json_error(e.status, e.code, e.message, e.headers, e.extra)
        if e.status == 408:
            # The client stopped sending: answer, then close at once instead of
            # lingering on a body that is not coming (the socket is released now).
            resp.force_close()
            resp.headers.update(SECURITY_HEADERS)
            await resp.prepare(request)
            await resp.write_eof()
            request.protocol.force_close()
        return resp
    except web.HTTPException as e:
        if e.status < 400:
            raise
        headers = {k: v for k, v in e.headers.items() if k.lower() not in ("content-type", "content-length")}
        message = e.text if e.text and not e.text.startswith(f"{e.status}:") else e.reason
        return json_error(e.status, _HTTP_CODES.get(e.status, "error"), message, headers)
    except asyncio.CancelledError:
        raise
    except CLIENT_GONE as e:  # most likely nobody is left to read this
        return json_error(400, "interrupted", f"the request body was cut off ({type(e).__name__})")
    except GraphError as e:
        log.error("graph database error on %s %s: %s", request.method, request.path, e)
        return json_error(503, "graph_unavailable", f"the graph database failed: {e}")
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            return json_error(507, "insufficient_storage", "no space left in the data directory")
        log.exception("I/O error on %s %s", request.method, request.path)
        return json_error(500, "io_error", f"I/O error: {e.strerror or e}")
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return json_error(500, "internal_error", "unexpected server error (see the server log)")


def metrics_middleware(metrics: Metrics):
    """Counts requests by route and final status. The status is read when the
    headers go out (on_response_prepare): a FileResponse only decides between
    200, 206 and 416 then."""

    @web.middleware
    async def middleware(request: web.Request, handler):
        request["t0"] = time.monotonic()
        return await handler(request)

    async def on_prepare(request: web.Request, response: web.StreamResponse):
        if "t0" not in request:
            return
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.requests.labels(request.method, route, str(response.status)).inc()
        metrics.latency.labels(request.method, route).observe(time.monotonic() - request["t0"])

    return middleware, on_prepare


SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


@web.middleware
async def header_middleware(request: web.Request, handler):
    resp = await handler(request)
    if not resp.prepared:
        for key, value in SECURITY_HEADERS.items():
            resp.headers.setdefault(key, value)
    return resp


def build_app(cfg: Config) -> web.Application:
    core = DisGraFS(cfg)
    count_requests, on_prepare = metrics_middleware(core.metrics)
    app = web.Application(client_max_size=1024 * 1024,
                          middlewares=[count_requests, header_middleware, error_middleware])
    app.on_response_prepare.append(on_prepare)
    app[APP] = core
    r = app.router
    r.add_get("/", core.index)
    r.add_get("/static/{path:.+}", core.static)
    r.add_get("/healthz", core.healthz)
    r.add_get("/metrics", core.metrics_view)
    r.add_get("/openapi.json", core.openapi)
    r.add_get("/api/files", core.list_files)
    r.add_route("POST", "/api/files", core.upload, expect_handler=core.expect_upload)
    r.add_get("/api/files/{id}", core.get_file)
    r.add_delete("/api/files/{id}", core.delete)
    r.add_get("/api/files/{id}/content", core.download)
    r.add_post("/api/files/{id}/retag", core.retag)
    r.add_get("/api/files/{id}/related", core.related)
    r.add_get("/api/search", core.search)
    r.add_get("/api/tags", core.tags)
    r.add_get("/api/suggest", core.suggest)
    r.add_get("/api/graph", core.graph_view)

    async def on_startup(_):
        await core.startup()

    async def on_cleanup(_):
        await core.shutdown()

    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


async def serve(cfg: Config) -> None:
    app = build_app(cfg)
    core = app[APP]
    access_log = logging.getLogger("aiohttp.access") if cfg.log_level == "debug" else None
    # read_bufsize: how much of a request body aiohttp buffers before it stops
    # reading the socket; the 64 KiB default halves upload throughput.
    runner = Runner(app, access_log=access_log, handle_signals=False, read_bufsize=READ_BUFSIZE,
                    keepalive_timeout=KEEPALIVE_TIMEOUT)
    await runner.setup()
    try:
        site = web.TCPSite(runner, cfg.host, cfg.port, backlog=1024, reuse_address=True)
        await site.start()
        host, port = site._server.sockets[0].getsockname()[:2]
        if core.token_generated:
            print(f"disgrafs: generated a write token in {cfg.token_file} (mode 0600)", flush=True)
        print(f"disgrafs: serving {core.store.root} with the {cfg.graph} graph on "
              f"http://{host if ':' not in host else f'[{host}]'}:{port}/", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        print("disgrafs: stopping", flush=True)
    finally:
        await runner.cleanup()

