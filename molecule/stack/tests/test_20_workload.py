"""The file workload from the test host over the lab network: upload a text,
a PDF, an image and a binary file; each is in the JuiceFS volume (seen from a
second JuiceFS mount) and in Neo4j with its tags (over Bolt); downloads match;
delete removes the file and its nodes; after restarting Redis, the JuiceFS
mount, Neo4j and DisGraFS everything is still there."""

import time


from conftest import EXPECTED_TYPE, seconds, tags_in_graph, workload

# No parametrized `host` fixture here: pytest would reorder the tests around
# it, and these must run in file order. `server` is the lab server.

META_URL = "redis://127.0.0.1:6379/1"
VERIFY_UNIT = "dgf-verify-mount"
VERIFY_MNT = "/mnt/dgf-verify"


def test_upload_from_the_test_host(files):
    assert set(files.records) == set(EXPECTED_TYPE)
    for name, rec in files.records.items():
        assert rec["sha256"] == files.sha[name], name
        assert rec["name"] == name


def test_every_file_gets_tagged(tester, settings, files):
    ids = [r["id"] for r in files.records.values()]
    tagged = workload(tester, "wait", settings["url"], *ids, "--timeout", seconds(180))
    for name, rec in files.records.items():
        got = tagged[rec["id"]]
        assert got["tag_status"] == "done", (name, got)
        kinds = {(t["kind"], t["name"]) for t in got["tags"]}
        assert ("type", EXPECTED_TYPE[name]) in kinds, (name, kinds)


def test_files_are_in_the_volume_seen_from_a_second_mount(server, settings, files):
    server.run(f"systemctl stop {VERIFY_UNIT}; systemctl reset-failed {VERIFY_UNIT}")
    server.check_output(f"mkdir -p {VERIFY_MNT} /var/cache/juicefs-verify")
    # A second, read-only client of the same volume, in the foreground under a
    # transient unit (stopping the unit unmounts it and leaves no process).
    server.check_output(
        f"systemd-run --unit={VERIFY_UNIT} -p EnvironmentFile=/etc/juicefs/disgrafs.env "
        f"-p 'ExecStop=/usr/local/bin/juicefs umount {VERIFY_MNT}' "
        f"/usr/local/bin/juicefs mount --no-usage-report --read-only "
        f"--cache-dir /var/cache/juicefs-verify {META_URL} {VERIFY_MNT}")
    try:
        for _ in range(60):
            if server.run(f"stat -c %i {VERIFY_MNT}").stdout.strip() == "1":
                break
            time.sleep(0.5)
        rel = settings["data"].replace("/mnt/disgrafs", "", 1)
        for name, sha in files.sha.items():
            out = server.check_output(f"sha256sum {VERIFY_MNT}{rel}/{name}")
            assert out.split()[0] == sha, name
        info = server.check_output(f"/usr/local/bin/juicefs info {settings['data']}/lab-blob.bin")
        assert "chunks" in info or "objects" in info, info
    finally:
        server.run(f"systemctl stop {VERIFY_UNIT}")
    assert server.run(f"findmnt --mountpoint {VERIFY_MNT}").rc != 0
    assert server.run(f"pgrep -f '[j]uicefs mount .*{VERIFY_MNT}'").rc == 1


def test_files_are_in_neo4j_with_their_tags(bolt, files):
    for name, sha in files.sha.items():
        node = tags_in_graph(bolt, name)
        assert node, f"{name}: no File node"
        assert node["id"] == files.records[name]["id"]
        assert node["sha256"] == sha
        assert f"type:{EXPECTED_TYPE[name]}" in node["tags"], (name, node["tags"])
        assert f"ext:{name.rsplit('.', 1)[1]}" in node["tags"], (name, node["tags"])


def test_downloads_match(tester, settings, files):
    got = workload(tester, "download", settings["url"], *[r["id"] for r in files.records.values()])
    for name, rec in files.records.items():
        assert got[rec["id"]]["status"] == 200
        assert got[rec["id"]]["sha256"] == files.sha[name], name


def test_delete_removes_the_file_and_its_nodes(server, tester, settings, bolt, files):
    name = "lab-blob.bin"
    rec = files.records[name]
    assert workload(tester, "delete", settings["url"], settings["token"], rec["id"])["status"] == 204
    files.deleted.add(name)
    assert workload(tester, "get", settings["url"], rec["id"])["status"] == 404
    assert not server.file(f"{settings['data']}/{name}").exists
    assert bolt("MATCH (f:File) WHERE f.id = $id OR f.name = $name RETURN count(f) AS n",
                id=rec["id"], name=name)[0]["n"] == 0
    # its tags that no other file has went with it
    assert bolt("MATCH (t:Tag) WHERE t.key IN ['ext:bin', 'type:binary'] RETURN count(t) AS n")[0]["n"] == 0
    # the others are untouched
    assert len(bolt("MATCH (f:File) WHERE f.name IN $names RETURN f.id", names=list(files.kept()))) == 3


def test_everything_survives_restarting_the_stack(server, tester, settings, bolt, files):
    # Redis first (JuiceFS reconnects), then the mount (DisGraFS, which
    # Requires= it, is restarted with it), Neo4j, and DisGraFS itself.
    for unit in ("redis-server", "juicefs-disgrafs", "neo4j", "disgrafs"):
        server.check_output(f"systemctl restart {unit}.service")
    workload(tester, "health", settings["url"], "--timeout", seconds(180))
    kept = files.kept()
    got = workload(tester, "download", settings["url"], *[r["id"] for r in kept.values()])
    for name, rec in kept.items():
        assert got[rec["id"]]["sha256"] == files.sha[name], name
        assert server.check_output(f"sha256sum {settings['data']}/{name}").split()[0] == files.sha[name]
        node = tags_in_graph(bolt, name)
        assert node["sha256"] == files.sha[name]
        assert f"type:{EXPECTED_TYPE[name]}" in node["tags"]
    assert workload(tester, "get", settings["url"], files.records["lab-blob.bin"]["id"])["status"] == 404
