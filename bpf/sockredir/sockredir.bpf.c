// SPDX-License-Identifier: GPL-2.0
/*
 * sockredir: the lab's socket-redirect bypass (sockops + sk_msg).
 *
 * sockops (attached to a cgroup v2): when a TCP connection of a process in the
 * cgroup reaches ESTABLISHED and one of its ports is in `allow_ports`, the
 * socket is stored in `sock_hash` under its 4-tuple.
 *
 * sk_msg (attached to `sock_hash`): on every sendmsg() of such a socket, look
 * up the PEER socket (the 4-tuple reversed) and, if it is ours too, move the
 * data straight into the peer's receive queue: no TCP/IP stack, no loopback
 * device, no ACKs. Both ends must be local sockets in the same cgroup.
 *
 * Pitfalls handled (see docs/labs/01-sockredir.md):
 *  - byte order: local_port is host order, remote_port network order;
 *    both are normalised to host order in the key.
 *  - IPv4-mapped IPv6 peers (dual-stack listeners) are stored as IPv4, so an
 *    AF_INET client and an AF_INET6 listener produce matching keys.
 *  - sk_msg always returns SK_PASS: a failed lookup falls back to TCP
 *    instead of dropping the data (send() would fail with EACCES).
 *  - ctx fields are copied to locals before use (verifier: "dereference of
 *    modified ctx ptr").
 * Compiled as CO-RE against vmlinux.h generated from the target's BTF.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lab_stats.h"
#include "sockredir.h"

#define AF_INET 2
#define AF_INET6 10

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 65536);
	__type(key, struct sock_key);
	__type(value, __u64);
} sock_hash SEC(".maps");

/* Ports whose connections are redirected (key: port in host order). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} allow_ports SEC(".maps");

LAB_PERCPU_COUNTERS(stats, STAT_MAX);

/* sockredir_cfg[0] != 0: print a trace_pipe line per established connection. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} sockredir_cfg SEC(".maps");

/* remote_port holds the 16-bit network-order port; depending on the kernel it
 * sits in the upper or the lower half of the u32. Return it in host order. */
static __always_inline __u32 remote_port_host(__u32 raw)
{
	__u32 p = bpf_ntohl(raw);

	if (p > 0xffff)
		p = bpf_ntohs((__u16)raw);
	return p;
}

static __always_inline int is_v4_mapped(__u32 ip6[4])
{
	return ip6[0] == 0 && ip6[1] == 0 && ip6[2] == bpf_htonl(0x0000ffff);
}

/* Fill the address part of a key; returns 0 if the family is not handled. */
static __always_inline int fill_addrs(struct sock_key *k, __u32 family,
				      __u32 lip4, __u32 rip4,
				      __u32 lip6[4], __u32 rip6[4])
{
	if (family == AF_INET) {
		k->family = AF_INET;
		k->local_ip[0] = lip4;
		k->remote_ip[0] = rip4;
		return 1;
	}
	if (family != AF_INET6)
		return 0;
	if (is_v4_mapped(lip6) && is_v4_mapped(rip6)) {
		/* dual-stack listener talking to an IPv4 peer */
		k->family = AF_INET;
		k->local_ip[0] = lip6[3];
		k->remote_ip[0] = rip6[3];
		return 1;
	}
	k->family = AF_INET6;
	__builtin_memcpy(k->local_ip, lip6, 16);
	__builtin_memcpy(k->remote_ip, rip6, 16);
	return 1;
}

static __always_inline int port_allowed(__u32 port)
{
	return bpf_map_lookup_elem(&allow_ports, &port) != NULL;
}

SEC("sockops")
int sockredir_ops(struct bpf_sock_ops *skops)
{
	/* copy ctx fields into locals first (verifier) */
	__u32 op = skops->op;
	__u32 family = skops->family;
	__u32 lport = skops->local_port;
	__u32 rport = remote_port_host(skops->remote_port);
	__u32 lip6[4], rip6[4];
	struct sock_key key = {};
	__u32 zero = 0, *trace;
	long err;

	if (op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (!port_allowed(lport) && !port_allowed(rport))
		return 1;

	lip6[0] = skops->local_ip6[0];
	lip6[1] = skops->local_ip6[1];
	lip6[2] = skops->local_ip6[2];
	lip6[3] = skops->local_ip6[3];
	rip6[0] = skops->remote_ip6[0];
	rip6[1] = skops->remote_ip6[1];
	rip6[2] = skops->remote_ip6[2];
	rip6[3] = skops->remote_ip6[3];
	if (!fill_addrs(&key, family, skops->local_ip4, skops->remote_ip4,
			lip6, rip6))
		return 1;
	key.local_port = lport;
	key.remote_port = rport;

	err = bpf_sock_hash_update(skops, &sock_hash, &key, BPF_ANY);
	lab_stat_inc(&stats, err ? STAT_SOCKETS_ADD_FAILED : STAT_SOCKETS_ADDED);

	trace = bpf_map_lookup_elem(&sockredir_cfg, &zero);
	if (trace && *trace)
		bpf_printk("sockredir: op = %d local_port = %d remote_port = %d",
			   op, lport, rport);
	return 1;
}

SEC("sk_msg")
int sockredir_msg(struct sk_msg_md *msg)
{
	__u32 family = msg->family;
	__u32 lport = msg->local_port;
	__u32 rport = remote_port_host(msg->remote_port);
	__u32 size = msg->size;
	__u32 lip6[4], rip6[4];
	struct sock_key peer = {};
	long verdict;

	lip6[0] = msg->local_ip6[0];
	lip6[1] = msg->local_ip6[1];
	lip6[2] = msg->local_ip6[2];
	lip6[3] = msg->local_ip6[3];
	rip6[0] = msg->remote_ip6[0];
	rip6[1] = msg->remote_ip6[1];
	rip6[2] = msg->remote_ip6[2];
	rip6[3] = msg->remote_ip6[3];
	/* the peer's key: our remote is its local */
	if (!fill_addrs(&peer, family, msg->remote_ip4, msg->local_ip4,
			rip6, lip6))
		return SK_PASS;
	peer.local_port = rport;
	peer.remote_port = lport;

	verdict = bpf_msg_redirect_hash(msg, &sock_hash, &peer, BPF_F_INGRESS);
	if (verdict == SK_PASS) {
		lab_stat_inc(&stats, STAT_REDIRECT_OK);
		lab_stat_add(&stats, STAT_REDIRECT_BYTES, size);
	} else {
		lab_stat_inc(&stats, STAT_REDIRECT_FAILED);
	}
	/* Always SK_PASS: on a failed lookup the data takes the normal TCP path
	 * instead of being dropped. */
	return SK_PASS;
}
