# DisGraFS server targets (included by the top-level Makefile).
.PHONY: web web-check test-disgrafs bench-disgrafs bench-tagging deps-disgrafs

DISGRAFS_WEB := disgrafs/web

# The page's graph library: npm ci from the lock file, copied to disgrafs/static/vendor
# (committed; see disgrafs/README.md). web-check fails if the copy is stale.
web: ## rebuild the page's vendored graph library (npm ci)
	@cd $(DISGRAFS_WEB) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs

web-check: ## fail if the vendored graph library is stale
	@cd $(DISGRAFS_WEB) && npm ci --no-audit --no-fund --loglevel=error && node build.mjs --check

# chromium, node packages for the browser test (root, Debian)
deps-disgrafs: ## chromium and node packages for the browser test
	@.ci/deps-disgrafs.sh

test-disgrafs: venv ## the DisGraFS server's tests only
	@$(PY) -m pytest -q tests/disgrafs

# Download vs nginx, upload vs cp, small uploads/s -> bench/results/disgrafs.json.
# DISGRAFS_BENCH_SIZE=256M for a quicker run (default 1G). Needs nginx (deps-disgrafs --bench).
bench-disgrafs: venv ## DisGraFS download/upload benchmark
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || .ci/deps-disgrafs.sh --bench
	@$(PY) bench/disgrafs_bench.py

bench-tagging: venv ## tagging in-process vs process pool vs Ray on one corpus
	@$(PY) bench/tagging_bench.py
