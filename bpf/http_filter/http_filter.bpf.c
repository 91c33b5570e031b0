// SPDX-License-Identifier: GPL-2.0
/*
 * http_filter: a socket filter (BPF_PROG_TYPE_SOCKET_FILTER) for an
 * AF_PACKET socket bound to the lab interface. It keeps only the packets
 * that carry the start of an HTTP request to the DisGraFS port, counts them
 * per method in a per-CPU array, and drops everything else before it is
 * copied to user space. The daemon (`labctl run http_filter`) reads the kept
 * packets and logs method + URL; `labctl http-log` streams that log.
 *
 * Once per request: an AF_PACKET socket sees a packet in each direction it
 * crosses the interface; on `lo` the same request is seen as outgoing AND
 * incoming. Packets the host sends (pkt_type PACKET_OUTGOING) are skipped,
 * and only the destination port is matched (responses come FROM the port).
 *
 * The filter reads the packet with bpf_skb_load_bytes at offsets computed
 * from the headers: no kernel struct is read, only __sk_buff context fields
 * (stable UAPI), so there is nothing to relocate; it is still built like the
 * rest of the suite (clang -target bpf against vmlinux.h).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lab_stats.h"
#include "http_filter.h"

char LICENSE[] SEC("license") = "GPL";

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define IPPROTO_TCP 6
#define PACKET_OUTGOING 4

/* http_cfg[0]: the TCP port requests go to (host byte order). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} http_cfg SEC(".maps");

/* requests per method, then request bytes (enum stat_index) */
LAB_PERCPU_COUNTERS(http_requests, STAT_MAX);

static __always_inline int match_method(const char *p)
{
	/* p holds the first 8 payload bytes */
	if (p[0] == 'G' && p[1] == 'E' && p[2] == 'T' && p[3] == ' ')
		return STAT_GET;
	if (p[0] == 'P' && p[1] == 'O' && p[2] == 'S' && p[3] == 'T' && p[4] == ' ')
		return STAT_POST;
	if (p[0] == 'P' && p[1] == 'U' && p[2] == 'T' && p[3] == ' ')
		return STAT_PUT;
	if (p[0] == 'D' && p[1] == 'E' && p[2] == 'L' && p[3] == 'E' && p[4] == 'T' &&
	    p[5] == 'E' && p[6] == ' ')
		return STAT_DELETE;
	if (p[0] == 'H' && p[1] == 'E' && p[2] == 'A' && p[3] == 'D' && p[4] == ' ')
		return STAT_HEAD;
	if (p[0] == 'O' && p[1] == 'P' && p[2] == 'T' && p[3] == 'I' && p[4] == 'O' &&
	    p[5] == 'N' && p[6] == 'S')
		return STAT_OPTIONS;
	if (p[0] == 'P' && p[1] == 'A' && p[2] == 'T' && p[3] == 'C' && p[4] == 'H' &&
	    p[5] == ' ')
		return STAT_PATCH;
	return -1;
}

SEC("socket")
int http_filter(struct __sk_buff *skb)
{
	__u32 zero = 0, *port, l3 = ETH_HLEN, l4, payload, len = skb->len;
	__u16 proto, dport;
	__u8 ihl_byte, doff_byte, ip_proto;
	char start[8];
	int m;

	if (skb->pkt_type == PACKET_OUTGOING)
		return 0;
	port = bpf_map_lookup_elem(&http_cfg, &zero);
	if (!port || !*port)
		return 0;

	if (bpf_skb_load_bytes(skb, 12, &proto, 2))
		return 0;
	proto = bpf_ntohs(proto);
	if (proto == ETH_P_8021Q) {
		if (bpf_skb_load_bytes(skb, 16, &proto, 2))
			return 0;
		proto = bpf_ntohs(proto);
		l3 += 4;
	}
	if (proto == ETH_P_IP) {
		if (bpf_skb_load_bytes(skb, l3, &ihl_byte, 1) ||
		    bpf_skb_load_bytes(skb, l3 + 9, &ip_proto, 1))
			return 0;
		l4 = l3 + (ihl_byte & 0x0f) * 4;
	} else if (proto == ETH_P_IPV6) {
		if (bpf_skb_load_bytes(skb, l3 + 6, &ip_proto, 1))
			return 0;
		l4 = l3 + 40;	/* extension headers: not for HTTP here */
	} else {
		return 0;
	}
	if (ip_proto != IPPROTO_TCP)
		return 0;
	if (bpf_skb_load_bytes(skb, l4 + 2, &dport, 2) || bpf_ntohs(dport) != *port)
		return 0;
	if (bpf_skb_load_bytes(skb, l4 + 12, &doff_byte, 1))
		return 0;
	payload = l4 + (doff_byte >> 4) * 4;
	if (payload + sizeof(start) > len)
		return 0;	/* no payload: SYN, ACK, FIN */
	if (bpf_skb_load_bytes(skb, payload, start, sizeof(start)))
		return 0;
	m = match_method(start);
	if (m < 0)
		return 0;	/* body segments, TLS, anything else */
	lab_stat_inc(&http_requests, m);
	lab_stat_add(&http_requests, STAT_REQUEST_BYTES, len - payload);
	return len;		/* keep the whole packet for the daemon */
}
