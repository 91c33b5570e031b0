/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lab_packet.h: packet parsing shared by the lab's XDP programs (BPF side).
 * Only packet bytes and the xdp_md context (UAPI) are read: no kernel
 * struct, nothing to relocate. Include after vmlinux.h.
 */
#ifndef LAB_PACKET_H
#define LAB_PACKET_H

#ifndef __bpf__
#error "lab_packet.h is for BPF programs (clang -target bpf)"
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define IPPROTO_UDP 17

/*
 * The UDP header of an IPv4 UDP packet, its bytes checked against the end of
 * the packet (verifier); NULL for any other packet. *ipp (if ipp is not
 * NULL) gets the IP header.
 */
static __always_inline struct udphdr *lab_xdp_ipv4_udp(struct xdp_md *ctx, struct iphdr **ipp)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return NULL;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP || ip->ihl < 5)
		return NULL;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end)
		return NULL;
	if (ipp)
		*ipp = ip;
	return udp;
}

#endif /* LAB_PACKET_H */
