// SPDX-License-Identifier: GPL-2.0
/* Lab 00, hello world as a libbpf CO-RE program: one event per execve()
 * (the syscalls:sys_enter_execve tracepoint: it works where kprobes do not)
 * into a ring buffer that hello.c prints. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "hello.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} events SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_execve")
int hello(struct trace_event_raw_sys_enter *ctx)
{
	struct hello_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 0;	/* ring buffer full: this event is lost */
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	/* args[0] of execve: the user-space pointer to the file name */
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), (const char *)ctx->args[0]);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
