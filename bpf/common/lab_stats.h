/* SPDX-License-Identifier: GPL-2.0 */
/*
 * lab_stats.h: the per-CPU counter arrays of the lab's programs (BPF side).
 *
 * Each program counts events in a BPF_MAP_TYPE_PERCPU_ARRAY of __u64 indexed
 * by its `enum stat_index` (bpf/<name>/<name>.h): one slot per CPU, so a
 * plain `+=` needs no atomics; user space (labctl) sums the CPUs.
 *
 *   LAB_PERCPU_COUNTERS(rl_stats, STAT_MAX);
 *   lab_stat_inc(&rl_stats, STAT_REQUESTS);
 *   lab_stat_add(&http_requests, STAT_REQUEST_BYTES, len);
 *
 * Include after vmlinux.h.
 */
#ifndef LAB_STATS_H
#define LAB_STATS_H

#ifndef __bpf__
#error "lab_stats.h is for BPF programs (clang -target bpf)"
#endif

#include <bpf/bpf_helpers.h>

/* A per-CPU array of `entries` __u64 counters, key __u32, named `name`. */
#define LAB_PERCPU_COUNTERS(name, entries)			\
	struct {						\
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);	\
		__uint(max_entries, entries);			\
		__type(key, __u32);				\
		__type(value, __u64);				\
	} name SEC(".maps")

/* Add n to counter idx of this CPU; an index out of range is ignored. */
static __always_inline void lab_stat_add(void *map, __u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += n;
}

#define lab_stat_inc(map, idx) lab_stat_add(map, idx, 1)

#endif /* LAB_STATS_H */
