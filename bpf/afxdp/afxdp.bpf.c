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

char LICENSE[] SEC("license") = "GPL";

#define ETH_P_IP 0x0800
#define IPPROTO_UDP 17
#define MAX_QUEUES 64

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

enum stat_index {
	STAT_SEEN = 0,		/* packets the program ran for */
	STAT_REDIRECTED,	/* handed to an AF_XDP socket */
	STAT_NO_SOCKET,		/* for the service, but no socket on the queue */
	STAT_PASSED,		/* not for the service: to the kernel stack */
	STAT_MAX,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} afxdp_stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&afxdp_stats, &idx);

	if (v)
		*v += 1;
}

SEC("xdp")
int afxdp_redirect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;
	__u32 zero = 0, *port, queue = ctx->rx_queue_index;
	long ret;

	stat_inc(STAT_SEEN);
	port = bpf_map_lookup_elem(&afxdp_cfg, &zero);
	if (!port || !*port)
		goto pass;
	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		goto pass;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP || ip->ihl < 5)
		goto pass;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end || udp->dest != bpf_htons(*port))
		goto pass;
	ret = bpf_redirect_map(&xsks_map, queue, XDP_PASS);
	if (ret == XDP_REDIRECT)
		stat_inc(STAT_REDIRECTED);
	else
		stat_inc(STAT_NO_SOCKET);
	return ret;
pass:
	stat_inc(STAT_PASSED);
	return XDP_PASS;
}
