# The eBPF programs (included by the top-level Makefile: -include mk/*.mk).
#   make bpf   compile every program, kernel and user sides, on this machine (build/bpf/)
.PHONY: bpf

# labctl's one build path (the one lab hosts use), against this kernel's BTF.
bpf: venv ## compile every eBPF program, kernel and user sides (build/bpf/)
	@echo "==> [bpf] compiling every eBPF program against this kernel's BTF"
	@PYTHONPATH=$(CURDIR) $(PY) -m labctl build all --build-dir $(CURDIR)/build/bpf
