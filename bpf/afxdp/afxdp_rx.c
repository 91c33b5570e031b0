// SPDX-License-Identifier: GPL-2.0
/*
 * afxdp_rx: the user-space receiver of the AF_XDP lab. It creates one AF_XDP
 * socket (copy mode: works on veth and any driver) on IFACE queue QUEUE with
 * libxdp's xsk API, WITHOUT libxdp's default XDP program: the lab's own
 * program (afxdp.bpf.c) is already attached, and this socket is put into its
 * pinned XSKMAP. It then counts the packets it receives and writes
 * {"ready", "rx_packets", "rx_bytes", kernel XDP_STATISTICS...} as JSON to
 * STATS_FILE every 200 ms and at exit (SIGTERM/SIGINT).
 *
 *   afxdp_rx IFACE QUEUE XSKMAP_PIN STATS_FILE [--port N] [--exit-after N]
 *
 * --port N: count only UDP packets to port N (others are counted as
 * "rx_other"); --exit-after N: exit once N packets were counted (benchmarks).
 * Re-creating a socket right after one was closed can fail with EBUSY for a
 * couple of seconds: creation is retried for up to 5 s.
 */
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_xdp.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <xdp/xsk.h>
#include "afxdp.h"

#define NUM_FRAMES 8192
#define RING_SIZE 4096
#define FRAME_SIZE XSK_UMEM__DEFAULT_FRAME_SIZE
#define BATCH 256
#define SPIN 2000	/* empty peeks before sleeping in poll() */

static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig; stop = 1; }

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct counts {
	unsigned long long packets, bytes, other;
	double first, last;
};

static void write_stats(const char *path, int fd, const struct counts *c, int ready)
{
	struct xdp_statistics st = {0};
	socklen_t len = sizeof(st);
	char tmp[4096];
	FILE *f;

	if (fd >= 0)
		getsockopt(fd, SOL_XDP, XDP_STATISTICS, &st, &len);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "{\"ready\": %s, \"pid\": %d, \"rx_packets\": %llu, \"rx_bytes\": %llu, "
		"\"rx_other\": %llu, \"seconds\": %.6f, \"rx_dropped\": %llu, "
		"\"rx_invalid_descs\": %llu, \"rx_ring_full\": %llu, "
		"\"rx_fill_ring_empty_descs\": %llu}\n",
		ready ? "true" : "false", getpid(), c->packets, c->bytes, c->other,
		c->last > c->first ? c->last - c->first : 0.0,
		(unsigned long long)st.rx_dropped, (unsigned long long)st.rx_invalid_descs,
		(unsigned long long)st.rx_ring_full, (unsigned long long)st.rx_fill_ring_empty_descs);
	fclose(f);
	rename(tmp, path);
}

static int udp_dport(const unsigned char *pkt, unsigned int len)
{
	const struct ethhdr *eth = (const void *)pkt;
	const struct iphdr *ip = (const void *)(eth + 1);
	const struct udphdr *udp;

	if (len < sizeof(*eth) + sizeof(*ip) || eth->h_proto != htons(ETH_P_IP) ||
	    ip->protocol != IPPROTO_UDP || len < sizeof(*eth) + ip->ihl * 4 + sizeof(*udp))
		return -1;
	udp = (const void *)((const unsigned char *)ip + ip->ihl * 4);
	return ntohs(udp->dest);
}

int main(int argc, char **argv)
{
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp, rx;
	struct xsk_umem *umem = NULL;
	struct xsk_socket *xsk = NULL;
	struct xsk_socket_config cfg = {0};
	struct counts c = {0};
	unsigned long long exit_after = 0;
	int port = -1, map_fd, fd, err = 0, queue;
	double next_write = 0, deadline;
	void *buffer;
	__u32 idx;

	if (argc < 5) {
		fprintf(stderr, "usage: %s IFACE QUEUE XSKMAP_PIN STATS_FILE [--port N] [--exit-after N]\n", argv[0]);
		return 2;
	}
	queue = atoi(argv[2]);
	if (queue < 0 || queue >= MAX_QUEUES) {
		fprintf(stderr, "afxdp_rx: queue %d: the XSKMAP holds queues 0-%d\n",
			queue, MAX_QUEUES - 1);
		return 1;
	}
	for (int i = 5; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port"))
			port = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--exit-after"))
			exit_after = strtoull(argv[i + 1], NULL, 10);
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	map_fd = bpf_obj_get(argv[3]);
	if (map_fd < 0) {
		fprintf(stderr, "afxdp_rx: cannot open the XSKMAP %s: %s (is afxdp loaded?)\n",
			argv[3], strerror(errno));
		return 1;
	}
	buffer = mmap(NULL, NUM_FRAMES * FRAME_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buffer == MAP_FAILED) {
		perror("afxdp_rx: mmap");
		return 1;
	}
	struct xsk_umem_config ucfg = {
		.fill_size = RING_SIZE,
		.comp_size = XSK_RING_CONS__DEFAULT_NUM_DESCS,
		.frame_size = FRAME_SIZE,
		.frame_headroom = XSK_UMEM__DEFAULT_FRAME_HEADROOM,
	};
	err = xsk_umem__create(&umem, buffer, NUM_FRAMES * FRAME_SIZE, &fill, &comp, &ucfg);
	if (err) {
		fprintf(stderr, "afxdp_rx: xsk_umem__create: %s\n", strerror(-err));
		return 1;
	}
	cfg.rx_size = RING_SIZE;
	cfg.tx_size = 0;
	cfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;
	cfg.bind_flags = XDP_COPY;
	deadline = now() + 5;
	do {	/* EBUSY for a moment after a previous socket on the queue closed */
		err = xsk_socket__create(&xsk, argv[1], queue, umem, &rx, NULL, &cfg);
		if (err == -EBUSY && now() < deadline)
			usleep(100000);
	} while (err == -EBUSY && now() < deadline && !stop);
	if (err) {
		fprintf(stderr, "afxdp_rx: xsk_socket__create on %s queue %d: %s\n",
			argv[1], queue, strerror(-err));
		return 1;
	}
	fd = xsk_socket__fd(xsk);
	if (bpf_map_update_elem(map_fd, &queue, &fd, 0)) {
		fprintf(stderr, "afxdp_rx: cannot put the socket in the XSKMAP: %s\n", strerror(errno));
		return 1;
	}
	/* give every frame to the kernel */
	if (xsk_ring_prod__reserve(&fill, RING_SIZE, &idx) != RING_SIZE) {
		fprintf(stderr, "afxdp_rx: cannot fill the fill ring\n");
		return 1;
	}
	for (int i = 0; i < RING_SIZE; i++)
		*xsk_ring_prod__fill_addr(&fill, idx++) = (__u64)i * FRAME_SIZE;
	xsk_ring_prod__submit(&fill, RING_SIZE);
	write_stats(argv[4], fd, &c, 1);
	fprintf(stderr, "afxdp_rx: receiving on %s queue %d\n", argv[1], queue);

	int empty = 0;

	while (!stop) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		__u32 rx_idx = 0, fill_idx = 0;
		unsigned int n;

		n = xsk_ring_cons__peek(&rx, BATCH, &rx_idx);
		if (!n) {
			/* spin a little while traffic flows, then sleep: an idle
			 * receiver costs no CPU */
			if (++empty < SPIN)
				continue;
			empty = 0;
			if (now() >= next_write) {
				write_stats(argv[4], fd, &c, 1);
				next_write = now() + 0.2;
			}
			poll(&pfd, 1, 100);
			continue;
		}
		empty = 0;
		while (xsk_ring_prod__reserve(&fill, n, &fill_idx) != n && !stop)
			;
		for (unsigned int i = 0; i < n; i++) {
			const struct xdp_desc *d = xsk_ring_cons__rx_desc(&rx, rx_idx++);
			__u64 addr = xsk_umem__add_offset_to_addr(d->addr);
			const unsigned char *pkt = xsk_umem__get_data(buffer, addr);

			if (port < 0 || udp_dport(pkt, d->len) == port) {
				c.packets++;
				c.bytes += d->len;
			} else {
				c.other++;
			}
			*xsk_ring_prod__fill_addr(&fill, fill_idx++) = xsk_umem__extract_addr(d->addr);
		}
		xsk_ring_prod__submit(&fill, n);
		xsk_ring_cons__release(&rx, n);
		c.last = now();
		if (!c.first)
			c.first = c.last;
		if (exit_after && c.packets >= exit_after)
			break;
		if (c.last >= next_write) {
			write_stats(argv[4], fd, &c, 1);
			next_write = c.last + 0.2;
		}
	}
	write_stats(argv[4], fd, &c, 0);
	xsk_socket__delete(xsk);
	xsk_umem__delete(umem);
	return 0;
}
