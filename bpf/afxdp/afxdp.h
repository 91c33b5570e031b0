/* SPDX-License-Identifier: GPL-2.0 */
/*
 * afxdp: what the XDP program (afxdp.bpf.c) shares with user space (labctl
 * and the receiver, afxdp_rx.c).
 *   afxdp_cfg    ARRAY[1]           __u32: the UDP port, host order; 0: none
 *   xsks_map     XSKMAP[MAX_QUEUES] queue -> AF_XDP socket
 *   afxdp_stats  PERCPU_ARRAY of __u64, index enum stat_index
 */
#ifndef AFXDP_H
#define AFXDP_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define MAX_QUEUES 64		/* entries of xsks_map: queues 0..MAX_QUEUES-1 */

/* labctl names each counter after its member, lower case, without the prefix */
enum stat_index {
	STAT_SEEN,		/* packets the program ran for */
	STAT_REDIRECTED,	/* handed to an AF_XDP socket */
	STAT_NO_SOCKET,		/* for the service, but no socket on the queue */
	STAT_PASSED,		/* not for the service: to the kernel stack */
	STAT_MAX,
};

#endif /* AFXDP_H */
