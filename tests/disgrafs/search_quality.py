"""Search quality on the labelled corpus in search_corpus/: precision at k.

The corpus is 28 short documents (20 English, 8 Chinese; operating systems,
distributed systems, biology, and unrelated distractors that share words
with the queries, such as "virtual machine runtime" or "window manager"),
named d01..d28 so that names carry no hint. queries.json lists 26 queries
and, for each, the documents about its topic.

Every query goes through the HTTP API as a user's search box sends it
(``by=any``, the page's default), so the measure covers tagging and search
together. Precision at k for one query is the number of relevant documents
in the first k results divided by min(k, number of relevant documents);
the figure is the mean over the queries.

    python tests/disgrafs/search_quality.py      # starts a server, prints the figure
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from pathlib import Path

CORPUS = Path(__file__).parent / "search_corpus"


def load_queries() -> tuple[int, list[dict]]:
    doc = json.loads((CORPUS / "queries.json").read_text(encoding="utf-8"))
    return doc["k"], doc["queries"]


def upload_corpus(srv) -> dict[str, str]:
    ids = {}
    for path in sorted(CORPUS.iterdir()):
        if path.name == "queries.json":
            continue
        ids[path.name] = srv.upload_ok(path.name, path.read_bytes())["id"]
    for file_id in ids.values():
        srv.wait_tagged(file_id, timeout=120)
    return ids


def precision_at_k(srv) -> tuple[float, dict[str, float]]:
    k, queries = load_queries()
    per_query = {}
    for q in queries:
        r = srv.get("/api/search?" + urllib.parse.urlencode({"q": q["q"], "by": "any", "limit": k}))
        assert r.status == 200, r
        top = [item["name"] for item in r.json()["items"][:k]]
        hits = len(set(top) & set(q["relevant"]))
        per_query[q["q"]] = hits / min(k, len(q["relevant"]))
    return sum(per_query.values()) / len(per_query), per_query


if __name__ == "__main__":
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import Server

    with tempfile.TemporaryDirectory() as tmp:
        srv = Server(Path(tmp) / "data").start(timeout=120)
        try:
            upload_corpus(srv)
            mean, per_query = precision_at_k(srv)
        finally:
            srv.stop()
    for q, p in per_query.items():
        print(f"{p:5.2f}  {q}")
    print(f"precision at {load_queries()[0]}: {mean:.3f} over {len(per_query)} queries")
