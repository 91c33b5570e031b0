# The eBPF program suite (included by the top-level Makefile: -include mk/*.mk).
#   make bench-suite        redis latency monitor cost + AF_XDP vs socket pps
#   make test-suite-kernel  the suite's host kernel tests only
#   make molecule-bpfsuite  the suite's molecule scenario
.PHONY: bench-suite bench-redis-latency bench-afxdp test-suite-kernel molecule-bpfsuite

bench-suite: bench-redis-latency bench-afxdp

bench-redis-latency: venv
	@echo "==> [bench] redis latency monitor: redis-server CPU/request and throughput"
	@$(PY) bench/redis_latency.py

bench-afxdp: venv
	@echo "==> [bench] AF_XDP receiver vs plain UDP socket (pps)"
	@$(PY) bench/afxdp.py

test-suite-kernel: venv
	@$(PY) -m pytest -q tests/test_redis_latency_kernel.py tests/test_http_filter_kernel.py \
		tests/test_xdp_cpumap_kernel.py tests/test_afxdp_kernel.py

molecule-bpfsuite: venv image
	@molecule test -s bpfsuite
