"""One contract, two engines: the same GraphStore tests on embedded LadybugDB and
on Neo4j. The Neo4j run needs a Neo4j 5+ test instance:

    DISGRAFS_TEST_NEO4J_URI=bolt://127.0.0.1:7687
    DISGRAFS_TEST_NEO4J_USER=neo4j            (default)
    DISGRAFS_TEST_NEO4J_PASSWORD=...
    DISGRAFS_TEST_NEO4J_DATABASE=neo4j        (default)

It deletes every File and Tag node in that database.
"""

from __future__ import annotations

import os

import pytest

from disgrafs.graph import DONE, FAILED, PENDING, RUNNING, FileRecord, GraphError, TagRecord
from disgrafs.graph.ladybug_backend import LadybugGraph
from disgrafs.graph.neo4j_backend import Neo4jGraph

NEO4J_URI = os.environ.get("DISGRAFS_TEST_NEO4J_URI", "")
NEO4J_SKIP = ("no Neo4j to test against: set DISGRAFS_TEST_NEO4J_URI (and DISGRAFS_TEST_NEO4J_PASSWORD) "
              "to a Neo4j 5+ test instance")


def neo4j_settings():
    if not NEO4J_URI:
        pytest.skip(NEO4J_SKIP)
    return (NEO4J_URI, os.environ.get("DISGRAFS_TEST_NEO4J_USER", "neo4j"),
            os.environ.get("DISGRAFS_TEST_NEO4J_PASSWORD", ""),
            os.environ.get("DISGRAFS_TEST_NEO4J_DATABASE", "neo4j"))


@pytest.fixture(params=["ladybug", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def g(request, tmp_path):
    store = LadybugGraph(tmp_path / "graph.lbdb") if request.param == "ladybug" else Neo4jGraph(*neo4j_settings())
    store.open()
    store.clear()
    yield store
    store.clear()
    store.close()


def rec(i, name=None, size=None, created=None, status=PENDING):
    return FileRecord(id=f"id{i:03d}", name=name or f"file{i:03d}.txt", size=size if size is not None else i * 10,
                      sha256=f"{i:064x}", mime="text/plain", created=created or f"2024-01-01T00:00:{i:02d}.000Z",
                      tag_status=status)


def T(*names, kind="keyword"):
    return [TagRecord(n, kind) for n in names]


def tag_keys(g):
    items, _ = g.tags("", "", 0, 1000)
    return {(t["name"], t["kind"]): t["count"] for t in items}


def test_files_roundtrip(g):
    r = rec(1, name="weird ' \" } ) // name.txt")
    g.add_file(r)
    assert g.get_file(r.id) == r
    assert g.get_file_by_name(r.name) == r
    assert g.get_file("nope") is None and g.get_file_by_name("nope") is None
    assert g.count_files() == 1 and g.ping()


def test_duplicate_id_is_refused_and_nothing_half_written(g):
    g.add_file(rec(1))
    with pytest.raises(GraphError):
        g._write([("CREATE (f:File {id: 'fresh', name: 'n', size: 1, sha256: '', mime: '', created: '', "
                   "tag_status: '', tag_error: '', tagged_at: ''})", {}),
                  ("CREATE (f:File {id: 'id001', name: 'dup', size: 1, sha256: '', mime: '', created: '', "
                   "tag_status: '', tag_error: '', tagged_at: ''})", {})])
    assert g.get_file("fresh") is None, "the transaction was not rolled back"
    assert g.count_files() == 1


def test_list_paging_and_sorting(g):
    for i in range(1, 12):
        g.add_file(rec(i, size=(i * 7) % 5))
    items, total = g.list_files(0, 5, "created", True)
    assert total == 11 and [f.id for f in items] == ["id011", "id010", "id009", "id008", "id007"]
    pages = [g.list_files(o, 4, "name", False)[0] for o in (0, 4, 8)]
    names = [f.name for p in pages for f in p]
    assert names == sorted(names) and len(set(names)) == 11
    sizes = [f.size for f in g.list_files(0, 100, "size", True)[0]]
    assert sizes == sorted(sizes, reverse=True)


def test_set_tags_replaces_and_removes_orphans(g):
    g.add_file(rec(1))
    g.add_file(rec(2))
    assert g.set_tags("id001", T("apple", "banana") + T("text", kind="type"), DONE, "", "t1")
    assert g.set_tags("id002", T("banana"), DONE, "", "t1")
    assert tag_keys(g) == {("apple", "keyword"): 1, ("banana", "keyword"): 2, ("text", "type"): 1}
    assert g.set_tags("id001", T("cherry", "cherry"), FAILED, "pdf: broken", "t2")
    assert tag_keys(g) == {("banana", "keyword"): 1, ("cherry", "keyword"): 1}
    f = g.get_file("id001")
    assert (f.tag_status, f.tag_error, f.tagged_at) == (FAILED, "pdf: broken", "t2")
    assert g.tags_of(["id001", "id002", "nobody"]) == {
        "id001": [{"name": "cherry", "kind": "keyword"}],
        "id002": [{"name": "banana", "kind": "keyword"}], "nobody": []}
    # a file deleted meanwhile: nothing is created
    assert not g.set_tags("gone", T("ghost"), DONE, "", "t3")
    assert ("ghost", "keyword") not in tag_keys(g)


def test_same_name_different_kinds_are_different_tags(g):
    g.add_file(rec(1))
    g.set_tags("id001", [TagRecord("png", "ext"), TagRecord("png", "format")], DONE, "", "t")
    assert tag_keys(g) == {("png", "ext"): 1, ("png", "format"): 1}
    items, total = g.search(["png"], "tag", 0, 10)
    assert total == 1 and items[0]["id"] == "id001"


def test_delete_file_takes_its_orphans(g):
    for i in (1, 2):
        g.add_file(rec(i))
    g.set_tags("id001", T("only-mine", "shared"), DONE, "", "t")
    g.set_tags("id002", T("shared"), DONE, "", "t")
    assert g.delete_file("id001")
    assert g.get_file("id001") is None
    assert tag_keys(g) == {("shared", "keyword"): 1}
    assert not g.delete_file("id001")
    assert g.delete_file("id002")
    assert tag_keys(g) == {} and g.count_files() == 0


def test_search_kinds(g):
    g.add_file(rec(1, name="Kernel-Notes.md"))
    g.add_file(rec(2, name="holiday.jpg"))
    g.add_file(rec(3, name="kernel-trace.log"))
    g.set_tags("id001", T("kernel", "scheduler") + T("markdown", kind="language"), DONE, "", "t")
    g.set_tags("id002", T("canon eos 5d", kind="camera"), DONE, "", "t")
    g.set_tags("id003", T("kernel"), DONE, "", "t")

    ids = lambda res: [r["id"] for r in res[0]]
    assert sorted(ids(g.search(["Kernel"], "keyword", 0, 10))) == ["id001", "id003"]
    assert ids(g.search(["kernel", "scheduler"], "keyword", 0, 10)) == ["id001"]
    assert ids(g.search(["markdown"], "keyword", 0, 10)) == []  # a language tag, not a keyword
    assert ids(g.search(["markdown"], "tag", 0, 10)) == ["id001"]
    assert ids(g.search(["canon eos 5d"], "tag", 0, 10)) == ["id002"]
    assert ids(g.search(["KERNEL", "notes"], "name", 0, 10)) == ["id001"]
    items, total = g.search(["kernel", "scheduler", "holiday"], "any", 0, 10)
    assert total == 3
    assert [r["id"] for r in items][0] == "id001" and items[0]["score"] == 2
    assert g.search(["kernel"], "any", 1, 1)[1] == 2  # total ignores paging
    assert g.search([], "any", 0, 10) == ([], 0)
    with pytest.raises(ValueError):
        g.search(["x"], "regex", 0, 10)


def test_related_weights_rare_tags_higher(g):
    for i in range(1, 7):
        g.add_file(rec(i))
    common = T("text", kind="type")
    g.set_tags("id001", common + T("walrus", "tusk"), DONE, "", "t")
    g.set_tags("id002", common + T("walrus", "tusk"), DONE, "", "t")  # shares two rare tags
    g.set_tags("id003", common + T("walrus"), DONE, "", "t")          # shares one rare tag
    for i in (4, 5):
        g.set_tags(f"id00{i}", common, DONE, "", "t")                  # shares only the common tag
    g.set_tags("id006", T("unrelated"), DONE, "", "t")
    related = g.related("id001", 10)
    assert [r["id"] for r in related] == ["id002", "id003", "id004", "id005"]
    assert related[0]["shared"] == ["text", "tusk", "walrus"]
    assert related[0]["score"] > related[1]["score"] > related[2]["score"] == related[3]["score"]
    assert g.related("id006", 10) == [] and g.related("missing", 10) == []
    assert len(g.related("id001", 2)) == 2


def test_tags_with_counts_and_suggest(g):
    for i in range(1, 4):
        g.add_file(rec(i, name=f"zebra-{i}.txt" if i < 3 else "apple.txt"))
    g.set_tags("id001", T("zebra", "zoo"), DONE, "", "t")
    g.set_tags("id002", T("zebra"), DONE, "", "t")
    g.set_tags("id003", T("zoo") + T("text", kind="type"), DONE, "", "t")
    items, total = g.tags("", "", 0, 100)
    assert total == 3 and items[0]["count"] == 2 and items[-1] == {"name": "text", "kind": "type", "count": 1}
    assert g.tags("keyword", "ze", 0, 100) == ([{"name": "zebra", "kind": "keyword", "count": 2}], 1)
    assert g.tags("type", "", 0, 100)[1] == 1
    s = g.suggest("ZE", 10)
    assert s[0] == {"type": "tag", "name": "zebra", "kind": "keyword", "count": 2}
    assert {x["name"] for x in s if x["type"] == "file"} == {"zebra-1.txt", "zebra-2.txt"}
    assert len(g.suggest("z", 2)) == 2


def test_status_and_content_updates(g):
    g.add_file(rec(1))
    g.add_file(rec(2))
    g.add_file(rec(3, status=DONE))
    assert g.set_status("id002", RUNNING)
    assert not g.set_status("nope", RUNNING)
    assert g.files_with_status([PENDING, RUNNING]) == ["id001", "id002"]
    assert g.update_content("id003", 999, "f" * 64, "text/markdown")
    f = g.get_file("id003")
    assert (f.size, f.sha256, f.mime, f.tag_status) == (999, "f" * 64, "text/markdown", PENDING)
    assert {r["name"] for r in g.all_files()} == {"file001.txt", "file002.txt", "file003.txt"}


def test_graph_view_and_orphan_sweep(g):
    g.add_file(rec(1))
    g.add_file(rec(2))
    g.set_tags("id001", T("a", "b"), DONE, "", "t")
    view = g.graph(1)  # only the newest file
    assert {n["id"] for n in view["nodes"]} == {"f:id002"}
    view = g.graph(10)
    assert {n["id"] for n in view["nodes"]} == {"f:id001", "f:id002", "t:keyword:a", "t:keyword:b"}
    assert len(view["edges"]) == 2
    g._write([("CREATE (t:Tag {key: 'keyword:stray', name: 'stray', kind: 'keyword'})", {})])
    assert ("stray", "keyword") in tag_keys(g)
    g.sweep_orphan_tags()
    assert ("stray", "keyword") not in tag_keys(g)


def test_parameters_are_data_not_cypher(g):
    evil = "x'}) match (n) detach delete n //"  # Cypher keywords are case-insensitive
    g.add_file(rec(1))
    g.add_file(rec(2, name=evil))
    g.set_tags("id002", T(evil, "} RETURN 1 //"), DONE, "", "t")
    assert g.count_files() == 2
    assert g.get_file_by_name(evil).id == "id002"
    assert g.search([evil], "tag", 0, 10)[0][0]["name"] == evil


@pytest.mark.neo4j
def test_server_on_neo4j(make_server):
    uri, user, password, database = neo4j_settings()
    store = Neo4jGraph(uri, user, password, database)
    store.open()
    store.clear()
    try:
        srv = make_server("--graph", "neo4j", "--neo4j-uri", uri, "--neo4j-user", user,
                          "--neo4j-database", database, env={"DISGRAFS_NEO4J_PASSWORD": password})
        assert srv.get("/healthz").json()["backend"] == "neo4j"
        f = srv.wait_tagged(srv.upload_ok("neo.txt", b"graph graph database bolt")["id"])
        assert {"graph", "database"} <= {t["name"] for t in f["tags"]}
        assert srv.get("/api/search?q=graph&by=keyword").json()["total"] == 1
        assert srv.request("DELETE", f"/api/files/{f['id']}", auth=True).status == 204
        assert store.count_files() == 0 and store.tags("", "", 0, 10) == ([], 0)
    finally:
        store.clear()
        store.close()
