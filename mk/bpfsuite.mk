# The eBPF program suite (included by the top-level Makefile: -include mk/*.mk).
#   make bench-suite        redis latency monitor cost + AF_XDP vs socket pps
#   make test-suite-kernel  the suite's host kernel tests only
.PHONY: bench-suite bench-redis-latency bench-afxdp test-suite-kernel

bench-suite: bench-redis-latency bench-afxdp ## the suite's benchmarks (redis monitor cost, AF_XDP)

bench-redis-latency: venv ## cost of the redis latency monitor
	@echo "==> [bench] redis latency monitor: redis-server CPU/request and throughput"
	@$(PY) bench/redis_latency.py

bench-afxdp: venv ## AF_XDP receiver vs a UDP socket, packets/s
	@echo "==> [bench] AF_XDP receiver vs plain UDP socket (pps)"
	@$(PY) bench/afxdp.py

test-suite-kernel: venv ## the suite's kernel tests only
	@$(PY) -m pytest -q tests/test_redis_latency_kernel.py tests/test_http_filter_kernel.py \
		tests/test_xdp_cpumap_kernel.py tests/test_afxdp_kernel.py
