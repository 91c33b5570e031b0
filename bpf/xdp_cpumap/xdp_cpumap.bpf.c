// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_cpumap: spread incoming UDP packets over CPUs in proportion to
 * weights, by redirecting them through a CPUMAP.
 *
 * The weights live in `cpu_weights` (CPU -> weight, written by labctl).
 * From them labctl derives `cpu_slots`, a table of SLOTS entries in which
 * each CPU appears in proportion to its weight (weights 1:3 on CPUs 0,1:
 * 256 slots say 0, 768 say 1). Per packet the program picks a slot (hash of
 * the flow, or a random number per packet) and redirects the packet to that
 * slot's CPU: the share of each CPU follows its weight, in O(1).
 *
 *   balance = flow:   slot = hash(saddr, daddr, sport, dport) % nslots
 *                     (a flow stays on one CPU: no reordering)
 *   balance = packet: slot = prandom % nslots (exact shares, reorders flows)
 *
 * On the destination CPU, the cpumap's own program (`xdp_cpumap_arrive`,
 * SEC xdp/cpumap) counts the packet in a per-CPU counter, proof of where it
 * really ran, and passes it to the network stack (XDP_PASS): the socket
 * gets it, processed on that CPU.
 *
 * Packets the program does not balance (not IPv4 UDP to the port) go to
 * the program in `xdp_chain` slot 0 if there is one (the AF_XDP program
 * chains there when both share the interface), else XDP_PASS.
 *
 * Only packet bytes and the xdp_md context (UAPI) are read: no kernel
 * struct, nothing to relocate. Built against vmlinux.h like the suite.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lab_packet.h"
#include "lab_stats.h"
#include "xdp_cpumap.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xcfg);
} xcfg SEC(".maps");

/* CPU -> weight: the source of truth (what labctl status shows). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_CPUS);
	__type(key, __u32);
	__type(value, __u32);
} cpu_weights SEC(".maps");

/* slot -> CPU, each CPU in proportion to its weight (derived by labctl). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} cpu_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_CPUMAP);
	__uint(max_entries, MAX_CPUS);
	__type(key, __u32);
	__type(value, struct bpf_cpumap_val);
} cpu_map SEC(".maps");

/* redirected[cpu]: packets sent to that CPU (summed over the source CPUs) */
LAB_PERCPU_COUNTERS(redirected, MAX_CPUS);

/* arrived[0], per CPU: packets the cpumap program ran for on that CPU */
LAB_PERCPU_COUNTERS(arrived, 1);

LAB_PERCPU_COUNTERS(xstats, STAT_MAX);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xdp_chain SEC(".maps");

static __always_inline __u32 mix(__u32 h)
{
	/* murmur3 finaliser: every input bit affects every output bit */
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline int pass_on(struct xdp_md *ctx)
{
	lab_stat_inc(&xstats, STAT_NOT_MATCHED);
	bpf_tail_call(ctx, &xdp_chain, 0);
	return XDP_PASS;	/* no program chained */
}

SEC("xdp")
int xdp_cpumap_balance(struct xdp_md *ctx)
{
	struct iphdr *ip;
	struct udphdr *udp;
	struct xcfg *cfg;
	__u32 zero = 0, key, slot, *cpu;
	long ret;

	lab_stat_inc(&xstats, STAT_SEEN);
	cfg = bpf_map_lookup_elem(&xcfg, &zero);
	if (!cfg || cfg->nslots == 0 || cfg->nslots > SLOTS)
		return pass_on(ctx);
	udp = lab_xdp_ipv4_udp(ctx, &ip);
	if (!udp)
		return pass_on(ctx);
	if (cfg->udp_port && udp->dest != bpf_htons(cfg->udp_port))
		return pass_on(ctx);

	if (cfg->balance == BALANCE_PACKET)
		key = bpf_get_prandom_u32();
	else
		key = mix(ip->saddr ^ mix(ip->daddr ^ mix(((__u32)udp->source << 16) | udp->dest)));
	slot = key % cfg->nslots;
	cpu = bpf_map_lookup_elem(&cpu_slots, &slot);
	if (!cpu || *cpu >= MAX_CPUS)
		return pass_on(ctx);
	ret = bpf_redirect_map(&cpu_map, *cpu, 0);
	if (ret != XDP_REDIRECT) {
		lab_stat_inc(&xstats, STAT_REDIRECT_FAILED);
		return XDP_PASS;
	}
	lab_stat_inc(&redirected, *cpu);
	lab_stat_inc(&xstats, STAT_BALANCED);
	return XDP_REDIRECT;
}

SEC("xdp/cpumap")
int xdp_cpumap_arrive(struct xdp_md *ctx)
{
	lab_stat_inc(&arrived, 0);
	return XDP_PASS;
}
