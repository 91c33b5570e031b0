// SPDX-License-Identifier: GPL-2.0
/*
 * afxdp: hand the packets of one UDP service to an AF_XDP socket.
 *
 * IPv4 UDP packets to `afxdp_cfg.udp_port` are redirected into the XSKMAP
 * entry of the queue they arrived on (ctx->rx_queue_index); the user-space
 * receiver (afxdp_rx.c) has put its AF_XDP socket there. Everything else,
 * and packets of a queue without a socket, goes on to the kernel stack
 * (XDP_PASS: the redirect's fallback action).
 *
 * The program is attached to the interface, or, when the XDP CPU balancer
 * (xdp_cpumap) already holds the interface's XDP hook, tail-called from the
 * balancer for the packets it does not balance (its xdp_chain map).
 *
 * Only packet bytes and the xdp_md context (UAPI) are read: no kernel
 * struct, nothing to relocate. Built against vmlinux.h like the suite.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lab_packet.h"
#include "lab_stats.h"
#include "afxdp.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);		/* the UDP port, host order; 0: none */
} afxdp_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

LAB_PERCPU_COUNTERS(afxdp_stats, STAT_MAX);

SEC("xdp")
int afxdp_redirect(struct xdp_md *ctx)
{
	struct udphdr *udp;
	__u32 zero = 0, *port, queue = ctx->rx_queue_index;
	long ret;

	lab_stat_inc(&afxdp_stats, STAT_SEEN);
	port = bpf_map_lookup_elem(&afxdp_cfg, &zero);
	if (!port || !*port)
		goto pass;
	udp = lab_xdp_ipv4_udp(ctx, NULL);
	if (!udp || udp->dest != bpf_htons(*port))
		goto pass;
	ret = bpf_redirect_map(&xsks_map, queue, XDP_PASS);
	if (ret == XDP_REDIRECT)
		lab_stat_inc(&afxdp_stats, STAT_REDIRECTED);
	else
		lab_stat_inc(&afxdp_stats, STAT_NO_SOCKET);
	return ret;
pass:
	lab_stat_inc(&afxdp_stats, STAT_PASSED);
	return XDP_PASS;
}
