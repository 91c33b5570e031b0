/* SPDX-License-Identifier: GPL-2.0 */
/*
 * sockredir: what the BPF program (sockredir.bpf.c) shares with user space.
 *   sock_hash      SOCKHASH  struct sock_key -> socket
 *   allow_ports    HASH      __u32 port (host order) -> __u8
 *   stats          PERCPU_ARRAY of __u64, index enum stat_index
 *   sockredir_cfg  ARRAY[1]  __u32: != 0 prints a trace_pipe line per connection
 */
#ifndef SOCKREDIR_H
#define SOCKREDIR_H

#ifndef __bpf__
#include <linux/types.h>
#endif

struct sock_key {
	__u32 family;
	__u32 local_ip[4];	/* IPv4 in [0], the rest zero */
	__u32 remote_ip[4];
	__u32 local_port;	/* host byte order */
	__u32 remote_port;	/* host byte order */
};

/* labctl names each counter after its member, lower case, without the prefix */
enum stat_index {
	STAT_SOCKETS_ADDED,	/* sockets put in sock_hash */
	STAT_SOCKETS_ADD_FAILED,
	STAT_REDIRECT_OK,	/* sendmsg() calls moved to the peer */
	STAT_REDIRECT_FAILED,	/* peer not in sock_hash: went through TCP */
	STAT_REDIRECT_BYTES,
	STAT_MAX,
};

#endif /* SOCKREDIR_H */
