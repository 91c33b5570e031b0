/* SPDX-License-Identifier: GPL-2.0 */
/*
 * http_filter: what the socket filter (http_filter.bpf.c) shares with user
 * space.
 *   http_cfg       ARRAY[1]  __u32: the TCP port requests go to (host order)
 *   http_requests  PERCPU_ARRAY of __u64, index enum stat_index: requests
 *                  per method, then the bytes of the request packets
 */
#ifndef HTTP_FILTER_H
#define HTTP_FILTER_H

/* labctl names each counter after its member, lower case, without the prefix */
enum stat_index {
	STAT_GET,		/* the methods first: match_method() returns these */
	STAT_POST,
	STAT_PUT,
	STAT_DELETE,
	STAT_HEAD,
	STAT_OPTIONS,
	STAT_PATCH,
	STAT_REQUEST_BYTES,	/* payload bytes of the kept packets */
	STAT_MAX,
};

#endif /* HTTP_FILTER_H */
