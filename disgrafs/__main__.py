from disgrafs.cli import main

# The guard matters: tagging workers are spawned processes that re-import
# the parent's __main__ module (as __mp_main__) and must not start a server.
if __name__ == "__main__":
    raise SystemExit(main())
