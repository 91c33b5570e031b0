"""Files on disk: the data directory (a plain directory or the JuiceFS mount).

Layout::

    DATA/<name>                  the files, one flat namespace, browsable as-is
    DATA/.disgrafs/tmp/*.part    uploads in progress (same file system, so
                                 publishing them is a link, not a copy)
    DATA/.disgrafs/deleting/<id> files whose deletion has begun
    DATA/.disgrafs/graph.lbdb    the embedded graph (ladybug backend only)

An upload is written to ``tmp/`` while its sha256 is computed, fsync'd, then
published with ``link(tmp, DATA/name)``, which fails instead of replacing an
existing name, so two uploads of one name can never overwrite each other; then
the directory is fsync'd. A crash leaves at most a ``.part`` file, removed at
the next start. Deletion first renames the file into ``deleting/`` (atomic),
then removes the graph node, then unlinks; a crash in between is finished at
the next start (see server.Recovery).

Everything here is blocking and runs on worker threads.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import mimetypes
import os
import stat
import threading
import uuid
from pathlib import Path

import filetype

from .names import numbered

CONFLICT_POLICIES = ("fail", "rename")
HEAD_BYTES = 8192

_MIME = mimetypes.MimeTypes()  # the built-in table only: same answer on every host
for _ext, _type in {
    ".md": "text/markdown", ".markdown": "text/markdown", ".rst": "text/x-rst",
    ".go": "text/x-go", ".rs": "text/x-rust", ".ts": "text/x-typescript",
    ".java": "text/x-java", ".cpp": "text/x-c++src", ".hpp": "text/x-c++hdr",
    ".cc": "text/x-c++src", ".sh": "text/x-shellscript", ".yaml": "application/yaml",
    ".yml": "application/yaml", ".toml": "application/toml", ".log": "text/plain",
    ".mkv": "video/x-matroska", ".flac": "audio/flac", ".m4a": "audio/mp4",
    ".opus": "audio/ogg", ".webp": "image/webp",
}.items():
    _MIME.add_type(_type, _ext)


class NameSet:
    """A thread-safe multiset of names: two uploads of one name may both hold it."""

    def __init__(self):
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, name: str) -> None:
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + 1

    def discard(self, name: str) -> None:
        with self._lock:
            left = self._counts.pop(name, 0) - 1
            if left > 0:
                self._counts[name] = left

    def __contains__(self, name: str) -> bool:
        return name in self._counts


class NameTaken(Exception):
    """The name exists and the conflict policy is 'fail'."""


class UploadSink:
    """A temporary file that receives an upload and hashes it on the way."""

    def __init__(self, tmp_dir: Path):
        self.path = tmp_dir / f"{uuid.uuid4().hex}.part"
        self.fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.inflight: tuple = ()  # hash/write jobs running on threads, if any

    # hashlib and os.write release the GIL on large buffers: the server runs
    # hash() and write() of one buffer on two threads while it reads the next.
    def hash(self, data: bytes) -> None:
        self.sha256.update(data)

    def write(self, data: bytes) -> None:
        if len(self.head) < HEAD_BYTES:
            self.head += data[: HEAD_BYTES - len(self.head)]
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]
        self.size += len(data)

    def finish(self) -> None:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = None

    def discard(self) -> None:
        for job in self.inflight:
            try:  # never close the fd under a write still running on a thread
                job.result()
            except BaseException:
                pass
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


_libc = ctypes.CDLL(None, use_errno=True)
_AT_FDCWD = -100
_RENAME_NOREPLACE = 1


def _rename_noreplace(src: Path, dst: Path) -> None:
    """renameat2(RENAME_NOREPLACE): for file systems without hard links."""
    if _libc.renameat2(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), _RENAME_NOREPLACE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(dst))


def _place(src: Path, dst: Path) -> None:
    """Make src appear at dst, never replacing an existing dst; src is gone after."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV):
            raise
        _rename_noreplace(src, dst)  # raises FileExistsError (EEXIST) like link
        return
    os.unlink(src)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.state = self.root / ".disgrafs"
        self.tmp = self.state / "tmp"
        self.deleting = self.state / "deleting"
        # Names an upload is linking (until its node exists) and names being
        # deleted (until their node is gone): the reconciler leaves them alone.
        self.publishing = NameSet()
        self.deleting_names = NameSet()

    def prepare(self) -> int:
        """Create the layout; drop uploads a crash left behind. Returns how many."""
        for d in (self.root, self.state, self.tmp, self.deleting):
            d.mkdir(parents=True, exist_ok=True)
        dropped = 0
        for leftover in self.tmp.iterdir():
            leftover.unlink()
            dropped += 1
        return dropped

    def path(self, name: str) -> Path:
        # Names come from names.sanitize_name: one component, no leading dot.
        if "/" in name or name.startswith(".") or not name:
            raise ValueError(f"not a stored name: {name!r}")
        return self.root / name

    def new_upload(self) -> UploadSink:
        return UploadSink(self.tmp)

    def publish(self, sink: UploadSink, name: str, conflict: str) -> str:
        """Give the finished upload its name; returns the name used, which stays
        in ``publishing`` until the caller discards it (its node exists)."""
        attempts = 10_000 if conflict == "rename" else 1
        for n in range(1, attempts + 1):
            candidate = name if n == 1 else numbered(name, n)
            self.publishing.add(candidate)  # before the name can appear on disk
            try:
                _place(sink.path, self.path(candidate))
                fsync_dir(self.root)
            except FileExistsError:
                self.publishing.discard(candidate)
                continue
            except BaseException:
                self.publishing.discard(candidate)
                raise
            return candidate
        raise NameTaken(name)

    def unpublish(self, name: str) -> None:
        """Undo publish (the graph refused the file)."""
        try:
            os.unlink(self.path(name))
        except FileNotFoundError:
            pass

    # -- deletion in two steps --------------------------------------------
    def begin_delete(self, name: str, file_id: str) -> Path | None:
        """Move the file aside; None if it was already gone."""
        target = self.deleting / file_id
        try:
            os.rename(self.path(name), target)
        except FileNotFoundError:
            return None
        return target

    def finish_delete(self, moved: Path | None) -> None:
        if moved is not None:
            try:
                os.unlink(moved)
            except FileNotFoundError:
                pass
        fsync_dir(self.root)

    def abort_delete(self, moved: Path | None, name: str) -> str | None:
        """Put the file back (the graph could not be changed)."""
        if moved is None:
            return None
        for n in range(1, 1000):
            candidate = name if n == 1 else numbered(name, n)
            try:
                _place(moved, self.path(candidate))
                return candidate
            except FileExistsError:
                continue
        return None

    def interrupted_deletes(self) -> list[Path]:
        return sorted(self.deleting.iterdir())

    # -- inventory ----------------------------------------------------------
    def scan(self) -> dict[str, os.stat_result]:
        """Regular files at the top of the data directory, by name."""
        out = {}
        with os.scandir(self.root) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                try:
                    entry.name.encode("utf-8")
                except UnicodeEncodeError:  # not UTF-8 on disk: cannot be a graph string
                    continue
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    out[entry.name] = st
        return out

    def hash_file(self, name: str) -> tuple[int, str, bytes]:
        """(size, sha256, first bytes) of a stored file."""
        h = hashlib.sha256()
        size = 0
        head = b""
        with open(self.path(name), "rb") as fh:
            while chunk := fh.read(1 << 20):
                if not head:
                    head = chunk[:HEAD_BYTES]
                h.update(chunk)
                size += len(chunk)
        return size, h.hexdigest(), head


def detect_mime(name: str, head: bytes) -> str:
    """Content signature first, then the extension, then 'is it text?'."""
    by_ext = _MIME.guess_type(name, strict=False)[0]
    kind = filetype.guess(head) if head else None
    if kind is not None:
        # Office documents, jars, epubs... are zips: the extension is more precise.
        if kind.mime == "application/zip" and by_ext:
            return by_ext
        return kind.mime
    if by_ext:
        return by_ext
    if _looks_like_text(head):
        return "text/plain"
    return "application/octet-stream"


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still text
        return exc.start >= len(head) - 3
