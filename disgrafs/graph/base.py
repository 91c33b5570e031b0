"""The graph interface and the Cypher both backends share.

Schema (see disgrafs/README.md):

    (:File {id, name, size, sha256, mime, created, tag_status, tag_error, tagged_at})
        -[:TAGGED]->
    (:Tag {key, name, kind, stems})

``Tag.key`` is ``kind + ":" + name``: the same word can be a keyword and a
format ("png"), and each backend needs one unique property to MERGE on.
``Tag.stems`` is the name's words stemmed, between spaces (" virtual runtim "):
search compares stems, so singular and plural match and a word finds the
keyphrases that contain it (tagging/stem.py).

Every query here is a constant string with ``$parameters``; nothing a user
sends is ever pasted into Cypher. Where the two engines disagree (schema DDL,
transactions, result types) the subclass decides; the queries themselves are
written in the subset that LadybugDB (Kuzu) and Neo4j 5 both accept, and the
backend contract tests run them on both engines.

Methods are synchronous: the server runs them on a dedicated thread so the
event loop never blocks on the database.
"""

from __future__ import annotations

import math
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass

from ..tagging.stem import stem_key

# Status of tagging, stored on the File node so it survives a restart.
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


class GraphError(Exception):
    """The graph database failed or is unreachable."""


@dataclass
class FileRecord:
    id: str
    name: str
    size: int
    sha256: str
    mime: str
    created: str  # ISO 8601, UTC
    tag_status: str = PENDING
    tag_error: str = ""
    tagged_at: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TagRecord:
    name: str
    kind: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


_FILE_COLUMNS = (
    "f.id AS id, f.name AS name, f.size AS size, f.sha256 AS sha256, f.mime AS mime, "
    "f.created AS created, f.tag_status AS tag_status, f.tag_error AS tag_error, "
    "f.tagged_at AS tagged_at"
)

Q_CREATE_FILE = (
    "CREATE (f:File {id: $id, name: $name, size: $size, sha256: $sha256, mime: $mime, "
    "created: $created, tag_status: $tag_status, tag_error: $tag_error, tagged_at: $tagged_at})"
)
Q_UPDATE_CONTENT = (
    "MATCH (f:File {id: $id}) SET f.size = $size, f.sha256 = $sha256, f.mime = $mime, "
    "f.tag_status = $tag_status RETURN f.id AS id"
)
Q_GET_FILE = "MATCH (f:File {id: $id}) RETURN " + _FILE_COLUMNS
Q_GET_FILE_BY_NAME = "MATCH (f:File {name: $name}) RETURN " + _FILE_COLUMNS
Q_COUNT_FILES = "MATCH (f:File) RETURN count(f) AS n"
Q_ALL_FILES = "MATCH (f:File) RETURN f.id AS id, f.name AS name, f.size AS size, f.tag_status AS tag_status"
Q_FILES_WITH_STATUS = "MATCH (f:File) WHERE f.tag_status IN $statuses RETURN f.id AS id ORDER BY f.created"

# Paging orders: one constant query per (property, direction); the API picks
# one of these by name, never by splicing the property into the text.
_LIST = "MATCH (f:File) RETURN " + _FILE_COLUMNS
Q_LIST_FILES = {
    ("created", False): _LIST + " ORDER BY f.created, f.id SKIP $offset LIMIT $limit",
    ("created", True): _LIST + " ORDER BY f.created DESC, f.id SKIP $offset LIMIT $limit",
    ("name", False): _LIST + " ORDER BY f.name, f.id SKIP $offset LIMIT $limit",
    ("name", True): _LIST + " ORDER BY f.name DESC, f.id SKIP $offset LIMIT $limit",
    ("size", False): _LIST + " ORDER BY f.size, f.id SKIP $offset LIMIT $limit",
    ("size", True): _LIST + " ORDER BY f.size DESC, f.id SKIP $offset LIMIT $limit",
}
SORT_FIELDS = ("created", "name", "size")

Q_SET_STATUS = (
    "MATCH (f:File {id: $id}) SET f.tag_status = $status, f.tag_error = $error RETURN f.id AS id"
)
Q_FILE_TAG_KEYS = "MATCH (f:File {id: $id})-[:TAGGED]->(t:Tag) RETURN t.key AS key"
Q_DELETE_FILE = "MATCH (f:File {id: $id}) DETACH DELETE f"
Q_UNTAG_FILE = "MATCH (f:File {id: $id})-[r:TAGGED]->(:Tag) DELETE r"
Q_TAG_FILE = (
    "MATCH (f:File {id: $id}) UNWIND $tags AS t "
    "MERGE (g:Tag {key: t.key}) ON CREATE SET g.name = t.name, g.kind = t.kind, g.stems = t.stems "
    "ON MATCH SET g.stems = t.stems "
    "MERGE (f)-[:TAGGED]->(g)"
)
# Tags written before Tag.stems existed (filled in at start).
Q_TAGS_WITHOUT_STEMS = "MATCH (t:Tag) WHERE t.stems IS NULL RETURN t.key AS key, t.name AS name LIMIT 5000"
Q_SET_STEMS = "UNWIND $rows AS r MATCH (t:Tag {key: r.key}) SET t.stems = r.stems"
# Keyword tags that occur inside a text (a Chinese query has no spaces: its
# words are found among the tags instead of by a segmenter in the server).
Q_TAGS_INSIDE = (
    "MATCH (t:Tag) WHERE t.kind = 'keyword' AND $text CONTAINS t.name RETURN DISTINCT t.name AS name LIMIT 200"
)
Q_FINISH_TAGGING = (
    "MATCH (f:File {id: $id}) SET f.tag_status = $status, f.tag_error = $error, "
    "f.tagged_at = $tagged_at RETURN f.id AS id"
)
# Only the tags the change touched can have become orphans.
Q_DELETE_ORPHAN_TAGS = (
    "MATCH (t:Tag) WHERE t.key IN $keys AND NOT EXISTS { MATCH (t)<-[:TAGGED]-(:File) } DELETE t"
)
Q_DELETE_ALL_ORPHAN_TAGS = "MATCH (t:Tag) WHERE NOT EXISTS { MATCH (t)<-[:TAGGED]-(:File) } DELETE t"
Q_FILE_TAGS = (
    "MATCH (f:File)-[:TAGGED]->(t:Tag) WHERE f.id IN $ids "
    "RETURN f.id AS id, t.name AS name, t.kind AS kind ORDER BY t.kind, t.name"
)

# Search terms are maps {i, word, pat, n, w}: pat is the term's stem key
# (" runtim "), word its lower-case spelling (for names), n 1 for a query
# word and 0 for the whole phrase, w its weight in the ranking.
#
# Files that carry every term as a tag (optionally of one kind): the whole tag
# ($whole: "canon eos 5d", by=tag) or a word of it ("runtime" in "virtual
# runtime", by=keyword), compared by stems.
_TAGS_MATCH = (
    "UNWIND $terms AS term MATCH (f:File)-[:TAGGED]->(t:Tag) "
    "WHERE ($kind = '' OR t.kind = $kind) AND (t.stems = term.pat OR (NOT $whole AND t.stems CONTAINS term.pat)) "
    "WITH f, count(DISTINCT term.i) AS hits WHERE hits = $nterms "
)
Q_SEARCH_TAGS = (
    _TAGS_MATCH + "RETURN " + _FILE_COLUMNS + ", hits AS score ORDER BY f.created DESC, f.id SKIP $offset LIMIT $limit"
)
Q_SEARCH_TAGS_COUNT = _TAGS_MATCH + "RETURN count(f) AS n"
# Files whose name contains every term (case-insensitive).
_NAME_MATCH = "MATCH (f:File) WHERE all(x IN $terms WHERE toLower(f.name) CONTAINS x) "
Q_SEARCH_NAME = (
    _NAME_MATCH + "RETURN " + _FILE_COLUMNS + ", 1 AS score ORDER BY f.name, f.id SKIP $offset LIMIT $limit"
)
Q_SEARCH_NAME_COUNT = _NAME_MATCH + "RETURN count(f) AS n"
# Any term in the name or in a tag (by stems, words of keyphrases included).
# Ranking: a term found in a content keyword weighs its full w, in the name
# or another tag (type, ext...) half of it; the whole query as a keyphrase
# (n = 0) adds its own weight. score is the number of query words matched.
_ANY_MATCH = (
    "UNWIND $terms AS term MATCH (f:File) "
    "OPTIONAL MATCH (f)-[:TAGGED]->(t:Tag) WHERE t.stems CONTAINS term.pat "
    "WITH f, term.i AS i, term.n AS n, term.w AS w, "
    "max(CASE WHEN toLower(f.name) CONTAINS term.word THEN 1 ELSE 0 END) AS in_name, "
    "sum(CASE WHEN t.kind = 'keyword' THEN 1 ELSE 0 END) AS in_keywords, count(t) AS in_tags "
    "WHERE in_name + in_tags > 0 "
    "WITH f, sum(n) AS score, sum(CASE WHEN in_keywords > 0 THEN w ELSE w / 2.0 END) AS weight "
)
Q_SEARCH_ANY = (
    _ANY_MATCH + "RETURN " + _FILE_COLUMNS + ", score "
    "ORDER BY weight DESC, score DESC, f.created DESC, f.id SKIP $offset LIMIT $limit"
)
Q_SEARCH_ANY_COUNT = _ANY_MATCH + "WHERE score > 0 RETURN count(f) AS n"

# Related files: tags of the file with their document frequency, then files
# sharing them, each shared tag weighted by 1/log2(1+df) so that a tag that
# half the collection carries ("text", "small") counts for little.
Q_TAG_DF = (
    "MATCH (f:File {id: $id})-[:TAGGED]->(t:Tag) "
    "RETURN t.key AS key, COUNT { MATCH (t)<-[:TAGGED]-(:File) } AS df"
)
Q_RELATED = (
    "UNWIND $weights AS w MATCH (t:Tag {key: w.key})<-[:TAGGED]-(o:File) WHERE o.id <> $id "
    "WITH o, sum(w.w) AS score, collect(t.name) AS shared "
    "RETURN o.id AS id, o.name AS name, o.size AS size, o.mime AS mime, score, shared "
    "ORDER BY score DESC, o.name LIMIT $limit"
)

_TAG_MATCH = "MATCH (t:Tag) WHERE ($kind = '' OR t.kind = $kind) AND t.name STARTS WITH $prefix "
Q_TAGS = (
    _TAG_MATCH + "RETURN t.name AS name, t.kind AS kind, COUNT { MATCH (t)<-[:TAGGED]-(:File) } AS count "
    "ORDER BY count DESC, t.name, t.kind SKIP $offset LIMIT $limit"
)
Q_TAGS_COUNT = _TAG_MATCH + "RETURN count(t) AS n"
Q_SUGGEST_FILES = (
    "MATCH (f:File) WHERE toLower(f.name) STARTS WITH $prefix "
    "RETURN f.id AS id, f.name AS name ORDER BY f.name LIMIT $limit"
)

# The picture on the web page: the newest files and their tags.
Q_GRAPH = (
    "MATCH (f:File) WITH f ORDER BY f.created DESC, f.id LIMIT $limit "
    "OPTIONAL MATCH (f)-[:TAGGED]->(t:Tag) "
    "RETURN f.id AS id, f.name AS name, f.mime AS mime, f.size AS size, "
    "t.key AS tag_key, t.name AS tag_name, t.kind AS tag_kind"
)
Q_PING = "RETURN 1 AS ok"


class GraphStore(ABC):
    """One graph, two engines. Subclasses provide the engine calls."""

    backend = "abstract"

    # -- engine-specific ---------------------------------------------------
    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _read(self, query: str, params: dict | None = None) -> list[dict]:
        """Run one query, return its rows as dicts keyed by column alias."""

    @abstractmethod
    def _tx(self, work):
        """Call ``work(run)`` inside one write transaction and return its result;
        ``run(query, params)`` returns rows like ``_read``. All or nothing."""

    def _write(self, statements: list[tuple[str, dict]]) -> list[list[dict]]:
        return self._tx(lambda run: [run(q, p) for q, p in statements])

    # -- files -------------------------------------------------------------
    def ping(self) -> bool:
        return self._read(Q_PING)[0]["ok"] == 1

    def add_file(self, rec: FileRecord) -> None:
        self._write([(Q_CREATE_FILE, rec.to_dict())])

    def update_content(self, file_id: str, size: int, sha256: str, mime: str) -> bool:
        params = dict(id=file_id, size=size, sha256=sha256, mime=mime, tag_status=PENDING)
        return bool(self._write([(Q_UPDATE_CONTENT, params)])[0])

    def get_file(self, file_id: str) -> FileRecord | None:
        rows = self._read(Q_GET_FILE, {"id": file_id})
        return _file(rows[0]) if rows else None

    def get_file_by_name(self, name: str) -> FileRecord | None:
        rows = self._read(Q_GET_FILE_BY_NAME, {"name": name})
        return _file(rows[0]) if rows else None

    def count_files(self) -> int:
        return self._read(Q_COUNT_FILES)[0]["n"]

    def list_files(self, offset: int, limit: int, sort: str = "created", desc: bool = True):
        rows = self._read(Q_LIST_FILES[(sort, desc)], {"offset": offset, "limit": limit})
        return [_file(r) for r in rows], self.count_files()

    def all_files(self) -> list[dict]:
        """id, name, size and tag_status of every file (for reconciliation)."""
        return self._read(Q_ALL_FILES)

    def files_with_status(self, statuses: list[str]) -> list[str]:
        return [r["id"] for r in self._read(Q_FILES_WITH_STATUS, {"statuses": statuses})]

    def delete_file(self, file_id: str) -> bool:
        """Delete the file node, its edges and the tags no other file carries."""

        def work(run):
            if not run(Q_GET_FILE, {"id": file_id}):
                return False
            keys = [r["key"] for r in run(Q_FILE_TAG_KEYS, {"id": file_id})]
            run(Q_DELETE_FILE, {"id": file_id})
            run(Q_DELETE_ORPHAN_TAGS, {"keys": keys})
            return True

        return self._tx(work)

    def sweep_orphan_tags(self) -> None:
        self._write([(Q_DELETE_ALL_ORPHAN_TAGS, {})])

    def fill_missing_stems(self) -> int:
        """Give tags written by an older version their stem key."""
        done = 0
        while True:
            rows = self._read(Q_TAGS_WITHOUT_STEMS)
            if not rows:
                return done
            self._write([(Q_SET_STEMS, {"rows": [{"key": r["key"], "stems": stem_key(r["name"])} for r in rows]})])
            done += len(rows)

    def tags_inside(self, text: str) -> list[str]:
        """Keyword tags (of two or more characters) that occur in ``text``."""
        return [r["name"] for r in self._read(Q_TAGS_INSIDE, {"text": _fold(text)}) if len(r["name"]) >= 2]

    def set_status(self, file_id: str, status: str, error: str = "") -> bool:
        return bool(self._write([(Q_SET_STATUS, {"id": file_id, "status": status, "error": error})])[0])

    def set_tags(self, file_id: str, tags: list[TagRecord], status: str, error: str, tagged_at: str) -> bool:
        """Replace the file's tags; False when the file is gone (deleted meanwhile)."""
        rows = [{"key": t.key, "name": t.name, "kind": t.kind, "stems": stem_key(t.name)} for t in dict.fromkeys(tags)]
        finish = {"id": file_id, "status": status, "error": error, "tagged_at": tagged_at}

        def work(run):
            if not run(Q_GET_FILE, {"id": file_id}):
                return False
            old = [r["key"] for r in run(Q_FILE_TAG_KEYS, {"id": file_id})]
            if old:  # re-tagging (the first tagging has nothing to undo)
                run(Q_UNTAG_FILE, {"id": file_id})
            if rows:
                run(Q_TAG_FILE, {"id": file_id, "tags": rows})
            run(Q_FINISH_TAGGING, finish)
            if old:
                run(Q_DELETE_ORPHAN_TAGS, {"keys": old})
            return True

        return self._tx(work)

    def tags_of(self, file_ids: list[str]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {i: [] for i in file_ids}
        if file_ids:
            for r in self._read(Q_FILE_TAGS, {"ids": list(file_ids)}):
                out[r["id"]].append({"name": r["name"], "kind": r["kind"]})
        return out

    # -- search ------------------------------------------------------------
    def search(self, terms: list[str], by: str, offset: int, limit: int):
        """by: 'tag' (all terms are tags), 'keyword' (all terms are content
        keywords, or words of keyphrases), 'name' (name contains all terms),
        'any' (ranked OR over names and tags, plus the whole query as a
        keyphrase). Tags are compared by stems (tagging/stem.py)."""
        terms = list(dict.fromkeys(_fold(t).strip() for t in terms if t and t.strip()))
        if not terms:
            return [], 0
        if by not in ("tag", "keyword", "name", "any"):
            raise ValueError(f"unknown search kind {by!r}")
        page = {"offset": offset, "limit": limit}
        if by == "name":
            p, rows, count = dict(page, terms=terms), Q_SEARCH_NAME, Q_SEARCH_NAME_COUNT
        else:
            keyed = [{"i": i, "word": t, "pat": stem_key(t), "n": 1, "w": 1.0} for i, t in enumerate(terms)]
            keyed = [k for k in keyed if k["pat"]]
            if by in ("tag", "keyword"):
                p = dict(page, terms=keyed, kind="keyword" if by == "keyword" else "", whole=by == "tag",
                         nterms=len(keyed))
                rows, count = Q_SEARCH_TAGS, Q_SEARCH_TAGS_COUNT
            else:
                if len(terms) > 1:  # the whole query as one keyphrase: "virtual runtime"
                    phrase = " ".join(terms)
                    keyed.append({"i": len(terms), "word": phrase, "pat": stem_key(phrase), "n": 0, "w": 2.0})
                p, rows, count = dict(page, terms=keyed), Q_SEARCH_ANY, Q_SEARCH_ANY_COUNT
        items = [dict(_file(r).to_dict(), score=int(r["score"])) for r in self._read(rows, p)]
        total_params = {k: v for k, v in p.items() if k not in ("offset", "limit")}
        return items, self._read(count, total_params)[0]["n"]

    def related(self, file_id: str, limit: int) -> list[dict]:
        weights = [
            {"key": r["key"], "w": 1.0 / math.log2(1 + r["df"])}
            for r in self._read(Q_TAG_DF, {"id": file_id})
            if r["df"] > 1  # a tag only this file has relates it to nothing
        ]
        if not weights:
            return []
        rows = self._read(Q_RELATED, {"weights": weights, "id": file_id, "limit": limit})
        for r in rows:
            r["score"] = round(r["score"], 4)
            r["shared"] = sorted(set(r["shared"]))
        return rows

    def tags(self, kind: str, prefix: str, offset: int, limit: int):
        p = {"kind": kind, "prefix": _fold(prefix)}
        items = self._read(Q_TAGS, dict(p, offset=offset, limit=limit))
        return items, self._read(Q_TAGS_COUNT, p)[0]["n"]

    def suggest(self, prefix: str, limit: int) -> list[dict]:
        prefix = _fold(prefix)
        tags = self._read(Q_TAGS, {"kind": "", "prefix": prefix, "offset": 0, "limit": limit})
        files = self._read(Q_SUGGEST_FILES, {"prefix": prefix, "limit": limit})
        out = [{"type": "tag", **t} for t in tags] + [{"type": "file", **f} for f in files]
        return out[:limit]

    def graph(self, limit: int) -> dict:
        nodes: dict[str, dict] = {}
        edges = []
        for r in self._read(Q_GRAPH, {"limit": limit}):
            fid = "f:" + r["id"]
            nodes.setdefault(fid, {"id": fid, "type": "file", "file_id": r["id"], "label": r["name"],
                                   "mime": r["mime"], "size": r["size"]})
            if r["tag_key"] is not None:
                tid = "t:" + r["tag_key"]
                nodes.setdefault(tid, {"id": tid, "type": "tag", "label": r["tag_name"],
                                       "kind": r["tag_kind"], "degree": 0})
                nodes[tid]["degree"] += 1
                edges.append({"source": fid, "target": tid})
        return {"nodes": list(nodes.values()), "edges": edges}


def _fold(text: str) -> str:
    """Queries compare like tags are stored: NFC, lower case."""
    return unicodedata.normalize("NFC", text).lower()


def _file(row: dict) -> FileRecord:
    return FileRecord(
        id=row["id"], name=row["name"], size=row["size"], sha256=row["sha256"], mime=row["mime"],
        created=row["created"], tag_status=row["tag_status"] or PENDING,
        tag_error=row["tag_error"] or "", tagged_at=row["tagged_at"] or "",
    )
