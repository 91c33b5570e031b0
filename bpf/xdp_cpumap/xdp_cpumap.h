/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xdp_cpumap: what the XDP programs (xdp_cpumap.bpf.c) share with user space.
 *   xcfg         ARRAY[1]          struct xcfg (written by labctl)
 *   cpu_weights  ARRAY[MAX_CPUS]   CPU -> __u32 weight
 *   cpu_slots    ARRAY[SLOTS]      slot -> __u32 CPU
 *   cpu_map      CPUMAP[MAX_CPUS]  CPU -> struct bpf_cpumap_val
 *   redirected   PERCPU_ARRAY[MAX_CPUS] of __u64: packets sent to each CPU
 *   arrived      PERCPU_ARRAY[1] of __u64: packets that ran on each CPU
 *   xstats       PERCPU_ARRAY of __u64, index enum stat_index
 *   xdp_chain    PROG_ARRAY[1]     the program for packets not balanced
 */
#ifndef XDP_CPUMAP_H
#define XDP_CPUMAP_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define MAX_CPUS 64
#define SLOTS 1024

enum balance { BALANCE_FLOW = 0, BALANCE_PACKET = 1 };

struct xcfg {
	__u32 udp_port;		/* host order; 0: every IPv4 UDP packet */
	__u32 balance;		/* enum balance */
	__u32 nslots;		/* used entries of cpu_slots; 0: balance nothing */
	__u32 pad;
};

/* labctl names each counter after its member, lower case, without the prefix */
enum stat_index {
	STAT_SEEN,		/* packets the program ran for */
	STAT_BALANCED,		/* redirected to a CPU */
	STAT_NOT_MATCHED,	/* not IPv4 UDP to the port: passed or chained */
	STAT_REDIRECT_FAILED,	/* bpf_redirect_map failed: passed here */
	STAT_MAX,
};

#endif /* XDP_CPUMAP_H */
