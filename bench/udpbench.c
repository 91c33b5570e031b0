// SPDX-License-Identifier: GPL-2.0
/*
 * udpbench: a bounded UDP blaster and a plain-socket sink for bench/afxdp.py.
 *
 *   udpbench send HOST PORT COUNT [SIZE]   sendmmsg() in batches of 64,
 *                                          exactly COUNT datagrams, then exits
 *   udpbench sink PORT EXPECT [IDLE_MS]    recvmmsg() until EXPECT datagrams
 *                                          or IDLE_MS without one (default 1000)
 *
 * Both print one JSON line. The sink's "seconds" runs from its first to its
 * last datagram, so its pps is the rate it actually received at.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int do_send(const char *host, int port, long count, int size)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	char payload[2048];
	long sent = 0;
	double start;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0 || inet_pton(AF_INET, host, &dst.sin_addr) != 1 || size > (int)sizeof(payload)) {
		fprintf(stderr, "udpbench: bad socket/host/size\n");
		return 1;
	}
	memset(payload, 0xa5, sizeof(payload));
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = payload;
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &dst;
		msgs[i].msg_hdr.msg_namelen = sizeof(dst);
	}
	start = now();
	while (sent < count) {
		int n = count - sent < BATCH ? count - sent : BATCH;
		int r = sendmmsg(fd, msgs, n, 0);

		if (r > 0)
			sent += r;
	}
	printf("{\"sent\": %ld, \"seconds\": %.6f, \"pps\": %.0f}\n", sent, now() - start,
	       sent / (now() - start));
	return 0;
}

static int do_sink(int port, long expect, int idle_ms)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = idle_ms / 1000, .tv_usec = (idle_ms % 1000) * 1000 };
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	static char bufs[BATCH][2048];
	int rcvbuf = 32 << 20, fd = socket(AF_INET, SOCK_DGRAM, 0);
	double first = 0, last = 0, wait_until = now() + 30;
	long got = 0;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror("udpbench: bind");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (got < expect) {
		int r = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);

		if (r <= 0) {
			if (got || now() > wait_until)
				break;	/* idle after traffic (or none came at all) */
			continue;
		}
		last = now();
		if (!first)
			first = last;
		got += r;
	}
	printf("{\"received\": %ld, \"seconds\": %.6f}\n", got, last - first);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), atol(argv[4]), argc > 5 ? atoi(argv[5]) : 64);
	if (argc >= 4 && !strcmp(argv[1], "sink"))
		return do_sink(atoi(argv[2]), atol(argv[3]), argc > 4 ? atoi(argv[4]) : 1000);
	fprintf(stderr, "usage: udpbench send HOST PORT COUNT [SIZE] | sink PORT EXPECT [IDLE_MS]\n");
	return 2;
}
