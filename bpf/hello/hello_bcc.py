#!/usr/bin/env python3
"""Lab 00, hello world with bcc (the course's first program): a line per
execve(). bcc compiles the C below when it runs, against the kernel headers
(kernel-devel / linux-headers for the running kernel): where a distribution
has none for the kernel, bcc cannot compile (libbpf CO-RE, hello.bpf.c, can).
Where kprobes exist, the course attached to the execve kprobe; here the
syscalls:sys_enter_execve tracepoint works on every kernel.

    python3 hello_bcc.py        (Ctrl-C to stop)
"""
import sys

from bcc import BPF

PROGRAM = r"""
struct event { u32 pid; char comm[16]; char filename[128]; };
BPF_PERF_OUTPUT(events);

TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
    struct event e = {};
    e.pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    bpf_probe_read_user_str(&e.filename, sizeof(e.filename), args->filename);
    events.perf_submit(args, &e, sizeof(e));
    return 0;
}
"""


def main() -> int:
    bpf = BPF(text=PROGRAM)

    def on_event(_cpu, data, _size):
        e = bpf["events"].event(data)
        print(f"hello: pid {e.pid} comm {e.comm.decode(errors='replace')} "
              f"execve {e.filename.decode(errors='replace')}", flush=True)

    bpf["events"].open_perf_buffer(on_event)
    print("ready", flush=True)
    try:
        while True:
            bpf.perf_buffer_poll(timeout=100)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
