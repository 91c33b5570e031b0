/* SPDX-License-Identifier: GPL-2.0 */
/*
 * redis_latency: what the BPF program (redis_latency.bpf.c) shares with
 * user space.
 *   rl_target   ARRAY[1]      struct target (written by labctl)
 *   rl_latency  PERCPU_HASH   struct cmd_key -> struct cmd_value
 *   rl_stats    PERCPU_ARRAY of __u64, index enum stat_index
 */
#ifndef REDIS_LATENCY_H
#define REDIS_LATENCY_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define NAME_LEN 16		/* longest command name kept (ZREMRANGEBYSCORE) */
#define BUCKETS 32		/* log2(ns) buckets: [2^i, 2^(i+1)) ns */

struct cmd_key {
	char name[NAME_LEN];	/* upper case, zero padded */
};

struct cmd_value {
	__u64 count;
	__u64 sum_ns;
	__u64 buckets[BUCKETS];
};

/*
 * The monitored redis-server. BPF sees tgids of the initial pid namespace;
 * labctl in a container sees the container's. labctl writes the tgid it
 * sees (ns_tgid) and its pid namespace (dev, ino); host_tgid is then learnt
 * by the program on the target's first system call
 * (bpf_get_ns_current_pid_tgid, the slow path, only until then). On the
 * host labctl writes host_tgid itself.
 */
struct target {
	__u32 host_tgid;	/* 0: not known yet */
	__u32 ns_tgid;		/* 0: monitor nothing */
	__u64 pidns_dev;
	__u64 pidns_ino;
};

/* labctl names each counter after its member, lower case, without the prefix */
enum stat_index {
	STAT_REQUESTS,		/* requests recognised (read) */
	STAT_REPLIES,		/* replies matched (histogram samples) */
	STAT_NOT_REQUEST,	/* reads that were neither RESP nor inline */
	STAT_CONTINUATION,	/* reads while a request was pending on the fd */
	STAT_NAME_TOO_LONG,	/* command names longer than NAME_LEN */
	STAT_FD_TOO_BIG,	/* descriptors >= MAX_FDS */
	STAT_TABLE_FULL,	/* new command name but rl_latency full */
	STAT_READ_FAULT,	/* the buffer could not be read */
	STAT_MAX,
};

#endif /* REDIS_LATENCY_H */
