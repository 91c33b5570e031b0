// SPDX-License-Identifier: GPL-2.0
/* Benchmark arm "hook only": an empty tp_btf/sys_exit program. What it costs
 * is the floor of any syscall-tracepoint monitor (the syscall slow path on
 * every task while a sys_exit program is attached), not redis_latency's work. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(noop_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}
