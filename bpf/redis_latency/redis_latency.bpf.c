// SPDX-License-Identifier: GPL-2.0
/*
 * redis_latency: per-command latency histograms of a redis-server, measured
 * in the kernel from its socket reads and writes.
 *
 * Two BTF tracepoints, tp_btf/sock_recv_length and tp_btf/sock_send_length,
 * run at the end of every socket receive and send on the machine (NOT at
 * every system call: a syscall tracepoint puts every task of the machine on
 * the slow syscall path; an EMPTY sys_exit program alone cost redis-server
 * 1.02x CPU per request on a quiet machine and 1.15-1.2x on a busy one).
 *  1. both return unless the caller's tgid is the monitored redis-server
 *     (the very first thing: every other process pays one compare),
 *  2. receive, > 0 bytes, by read()/recvfrom(): the buffer address and fd
 *     are in the saved syscall registers (bpf_task_pt_regs; CO-RE); read
 *     the first 32 bytes of the buffer (not more), recognise a RESP request
 *     (`*N\r\n$L\r\nNAME\r\n...`) or an inline one (`NAME arg\r\n`), and
 *     remember (time, command name) for that file descriptor,
 *  3. send on a descriptor with a remembered request: the reply is out;
 *     latency = now - time of the read, added to the command's log2
 *     histogram (a per-CPU hash: no atomics, no locks).
 *
 * Limits (docs/labs/06-redis-latency.md): one command per read() is
 * recognised; the commands of a pipelined batch after the first are not
 * counted (the reads are counted as `continuation`). A read on a
 * descriptor whose previous request has not been answered yet is taken as
 * the continuation of that request.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "lab_stats.h"
#include "redis_latency.h"

char LICENSE[] SEC("license") = "GPL";

#if defined(__TARGET_ARCH_x86)
#define NR_READ 0
#define NR_RECVFROM 45
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#define SYSCALL_ARG0(regs) ((regs)->di)
#define SYSCALL_ARG1(regs) ((regs)->si)
#elif defined(__TARGET_ARCH_arm64)
#define NR_READ 63
#define NR_RECVFROM 207
#define SYSCALL_NR(regs) ((regs)->syscallno)
#define SYSCALL_ARG0(regs) ((regs)->orig_x0)
#define SYSCALL_ARG1(regs) ((regs)->regs[1])
#else
#error "redis_latency: only x86_64 and arm64 syscall numbers are defined"
#endif

#define MSG_PEEK 2
#define HDR_LEN 32		/* bytes of the request read from user memory */
#define MAX_FDS 65536		/* descriptors tracked (array index) */

struct pending {
	__u64 start_ns;		/* 0: nothing pending on this fd */
	struct cmd_key key;
};

/* The monitored redis-server (struct target: redis_latency.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct target);
} rl_target SEC(".maps");

/* Request read, reply not written yet, per file descriptor. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_FDS);
	__type(key, __u32);
	__type(value, struct pending);
} rl_pending SEC(".maps");

/* The histograms, per command name and per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct cmd_key);
	__type(value, struct cmd_value);
} rl_latency SEC(".maps");

LAB_PERCPU_COUNTERS(rl_stats, STAT_MAX);

static const struct cmd_value zero_value;

static __always_inline char upper(char c)
{
	return (c >= 'a' && c <= 'z') ? c - ('a' - 'A') : c;
}

static __always_inline int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static __always_inline int is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Copy `len` bytes of the name starting at the CONSTANT offset `start`
 * (verifier: no variable stack offsets). Returns 0 if len is too long. */
static __always_inline int copy_name(struct cmd_key *key, const char *hdr,
				     const int start, __u32 len)
{
	if (len == 0 || len > NAME_LEN || start + len > HDR_LEN)
		return 0;
#pragma unroll
	for (int i = 0; i < NAME_LEN; i++) {
		if (i < len && start + i < HDR_LEN)
			key->name[i] = upper(hdr[start + i]);
	}
	return 1;
}

/* `*N\r\n$L\r\nNAME`: the name starts at 8, 9 or 10 depending on how many
 * digits N and L have; each case uses constant offsets. Returns 1 when a
 * name was copied, -1 when it is too long, 0 when this is not RESP. */
static __always_inline int parse_resp(struct cmd_key *key, const char *hdr, long n)
{
	__u32 len;

	if (hdr[0] != '*' || !is_digit(hdr[1]))
		return 0;
	if (hdr[2] == '\r') {			/* N has one digit: '$' at 4 */
		if (hdr[4] != '$' || !is_digit(hdr[5]))
			return 0;
		if (hdr[6] == '\r') {
			len = hdr[5] - '0';
			if (8 + len > n)
				return 0;
			return copy_name(key, hdr, 8, len) ? 1 : -1;
		}
		if (is_digit(hdr[6]) && hdr[7] == '\r') {
			len = (hdr[5] - '0') * 10 + (hdr[6] - '0');
			if (len > NAME_LEN)
				return -1;
			if (9 + len > n)
				return 0;
			return copy_name(key, hdr, 9, len) ? 1 : -1;
		}
		return 0;
	}
	if (is_digit(hdr[2]) && hdr[3] == '\r') {	/* two digits: '$' at 5 */
		if (hdr[5] != '$' || !is_digit(hdr[6]))
			return 0;
		if (hdr[7] == '\r') {
			len = hdr[6] - '0';
			if (9 + len > n)
				return 0;
			return copy_name(key, hdr, 9, len) ? 1 : -1;
		}
		if (is_digit(hdr[7]) && hdr[8] == '\r') {
			len = (hdr[6] - '0') * 10 + (hdr[7] - '0');
			if (len > NAME_LEN)
				return -1;
			if (10 + len > n)
				return 0;
			return copy_name(key, hdr, 10, len) ? 1 : -1;
		}
	}
	return 0;
}

/* Inline command (`PING\r\n`, as typed into telnet): letters up to a space
 * or CR. */
static __always_inline int parse_inline(struct cmd_key *key, const char *hdr, long n)
{
	int i;

	if (!is_alpha(hdr[0]))
		return 0;
#pragma unroll
	for (i = 0; i < NAME_LEN; i++) {
		char c = hdr[i];

		if (i >= n)
			return 0;
		if (c == ' ' || c == '\r' || c == '\n')
			return 1;
		if (!is_alpha(c))
			return 0;
		key->name[i] = upper(c);
	}
	return (hdr[NAME_LEN] == ' ' || hdr[NAME_LEN] == '\r') ? 1 : -1;
}

static __always_inline __u32 log2_bucket(__u64 v)
{
	__u32 r = 0, shift;

	shift = (v > 0xffffffffULL) << 5; v >>= shift; r |= shift;
	shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
	shift = (v > 0xff) << 3; v >>= shift; r |= shift;
	shift = (v > 0xf) << 2; v >>= shift; r |= shift;
	shift = (v > 0x3) << 1; v >>= shift; r |= shift;
	r |= (v >> 1);
	return r < BUCKETS ? r : BUCKETS - 1;
}

static __always_inline void on_read(__u32 fd, const char *buf, long ret)
{
	struct pending *p;
	struct cmd_key key = {};
	char hdr[HDR_LEN];
	int found;

	p = bpf_map_lookup_elem(&rl_pending, &fd);
	if (!p)
		return;
	if (p->start_ns) {		/* rest of a request, or pipelined */
		lab_stat_inc(&rl_stats, STAT_CONTINUATION);
		return;
	}
	if (bpf_probe_read_user(hdr, sizeof(hdr), buf)) {
		/* near the end of a mapping: retry with the bytes read */
		__builtin_memset(hdr, 0, sizeof(hdr));
		if (ret > HDR_LEN || bpf_probe_read_user(hdr, ret & (HDR_LEN - 1), buf)) {
			lab_stat_inc(&rl_stats, STAT_READ_FAULT);
			return;
		}
	}
	found = parse_resp(&key, hdr, ret);
	if (found == 0)
		found = parse_inline(&key, hdr, ret);
	if (found == 0) {
		lab_stat_inc(&rl_stats, STAT_NOT_REQUEST);
		return;
	}
	if (found < 0) {
		lab_stat_inc(&rl_stats, STAT_NAME_TOO_LONG);
		__builtin_memset(&key, 0, sizeof(key));
		__builtin_memcpy(key.name, "(LONG)", 6);
	}
	p->key = key;
	p->start_ns = bpf_ktime_get_ns();
	lab_stat_inc(&rl_stats, STAT_REQUESTS);
}

static __always_inline void on_write(__u32 fd)
{
	struct pending *p;
	struct cmd_value *v;
	__u64 delta;

	p = bpf_map_lookup_elem(&rl_pending, &fd);
	if (!p || !p->start_ns)
		return;
	delta = bpf_ktime_get_ns() - p->start_ns;
	p->start_ns = 0;
	v = bpf_map_lookup_elem(&rl_latency, &p->key);
	if (!v) {
		if (bpf_map_update_elem(&rl_latency, &p->key, &zero_value, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&rl_latency, &p->key)) {
			lab_stat_inc(&rl_stats, STAT_TABLE_FULL);
			return;
		}
		v = bpf_map_lookup_elem(&rl_latency, &p->key);
		if (!v)
			return;
	}
	v->count += 1;
	v->sum_ns += delta;
	v->buckets[log2_bucket(delta)] += 1;
	lab_stat_inc(&rl_stats, STAT_REPLIES);
}

/* The filter, first thing in both programs: is the caller the redis-server? */
static __always_inline int is_target(void)
{
	struct bpf_pidns_info ns;
	struct target *target;
	__u32 zero = 0, tgid = bpf_get_current_pid_tgid() >> 32;

	target = bpf_map_lookup_elem(&rl_target, &zero);
	if (!target)
		return 0;
	if (target->host_tgid == tgid)
		return 1;
	if (target->host_tgid || !target->ns_tgid)
		return 0;
	/* not learnt yet: is this the target, seen from labctl's pid ns? */
	if (bpf_get_ns_current_pid_tgid(target->pidns_dev, target->pidns_ino, &ns, sizeof(ns)) ||
	    ns.tgid != target->ns_tgid)
		return 0;
	target->host_tgid = tgid;
	return 1;
}

/* The system call being served: its number and arguments are in the user
 * registers saved at syscall entry (CO-RE: pt_regs offsets relocated). */
static __always_inline struct pt_regs *syscall_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

/* sock:sock_recv_length fires at the end of every sock_recvmsg() (read()
 * on a socket lands there): only socket reads pay, not every system call. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(rl_sock_recv, struct sock *sk, int ret, int flags)
{
	struct pt_regs *regs;
	long nr;
	__u64 fd;

	if (!is_target())
		return 0;
	if (ret <= 0 || (flags & MSG_PEEK))
		return 0;
	regs = syscall_regs();
	nr = SYSCALL_NR(regs);
	if (nr != NR_READ && nr != NR_RECVFROM) {
		lab_stat_inc(&rl_stats, STAT_NOT_REQUEST);	/* readv/recvmsg: no single buffer */
		return 0;
	}
	fd = SYSCALL_ARG0(regs);
	if (fd >= MAX_FDS) {
		lab_stat_inc(&rl_stats, STAT_FD_TOO_BIG);
		return 0;
	}
	on_read((__u32)fd, (const char *)SYSCALL_ARG1(regs), ret);
	return 0;
}

/* sock:sock_send_length: end of every sock_sendmsg() (write/writev/send*). */
SEC("tp_btf/sock_send_length")
int BPF_PROG(rl_sock_send, struct sock *sk, int ret, int flags)
{
	__u64 fd;

	if (!is_target())
		return 0;
	if (ret < 0)
		return 0;
	fd = SYSCALL_ARG0(syscall_regs());	/* fd is argument 0 of every send */
	if (fd < MAX_FDS)
		on_write((__u32)fd);
	return 0;
}
