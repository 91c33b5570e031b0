/*
 * tcpbench: one local TCP connection, two patterns, for bench/bypass.py.
 *
 *   tcpbench pingpong PORT SIZE SECONDS   request/response: send SIZE bytes,
 *                                         the peer echoes SIZE bytes back
 *   tcpbench stream   PORT SIZE SECONDS   one-way bulk: SIZE-byte writes
 *
 * Both ends use TCP_NODELAY (the same in every arm). The server is a forked
 * child, so both sockets belong to the caller's cgroup and network namespace.
 * Prints one JSON line: {"ops_per_s", "mb_per_s", "recv_calls", "bytes"}.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECV_BUF (256 * 1024)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("TCP_NODELAY");
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* read exactly len bytes; 0 on EOF */
static int read_all(int fd, char *buf, size_t len, long *calls)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);

		(*calls)++;
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 1;
}

static void serve(int conn, int pingpong, size_t size)
{
	char *buf = malloc(RECV_BUF > size ? RECV_BUF : size);
	long calls = 0;

	for (;;) {
		if (pingpong) {
			if (read_all(conn, buf, size, &calls) <= 0)
				break;
			if (write_all(conn, buf, size))
				break;
		} else {
			ssize_t n = recv(conn, buf, RECV_BUF, 0);

			calls++;
			if (n == 0)
				break;
			if (n < 0 && errno != EINTR && errno != EAGAIN)
				break;
		}
	}
	/* report the server's recv() count to the parent through the exit path */
	printf("%ld\n", calls);
	fflush(stdout);
	exit(0);
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	int pingpong, lfd, cfd, conn, one = 1, pipefd[2];
	double seconds, start, elapsed;
	long ops = 0, calls = 0, server_calls = 0;
	size_t size;
	char *buf;
	pid_t child;
	FILE *from_child;

	if (argc != 5 || (strcmp(argv[1], "pingpong") && strcmp(argv[1], "stream"))) {
		fprintf(stderr, "usage: %s pingpong|stream PORT SIZE SECONDS\n", argv[0]);
		return 2;
	}
	pingpong = !strcmp(argv[1], "pingpong");
	addr.sin_port = htons(atoi(argv[2]));
	size = strtoul(argv[3], NULL, 10);
	seconds = atof(argv[4]);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 1))
		die("bind/listen");
	if (pipe(pipefd))
		die("pipe");
	child = fork();
	if (child == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		conn = accept(lfd, NULL, NULL);
		if (conn < 0)
			die("accept");
		nodelay(conn);
		serve(conn, pingpong, size);
	}
	close(pipefd[1]);
	close(lfd);

	cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(cfd, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect");
	nodelay(cfd);
	buf = malloc(size);
	memset(buf, 'x', size);

	start = now();
	do {
		/* check the clock every 64 operations: cheap and bounded */
		for (int i = 0; i < 64; i++) {
			if (write_all(cfd, buf, size))
				die("send");
			if (pingpong && read_all(cfd, buf, size, &calls) <= 0)
				die("recv");
			ops++;
		}
		elapsed = now() - start;
	} while (elapsed < seconds);
	shutdown(cfd, SHUT_WR);
	from_child = fdopen(pipefd[0], "r");
	if (!from_child || fscanf(from_child, "%ld", &server_calls) != 1)
		server_calls = -1;
	elapsed = now() - start;  /* a stream is done when the reader has it all */
	waitpid(child, NULL, 0);
	close(cfd);
	printf("{\"ops_per_s\": %.1f, \"mb_per_s\": %.2f, \"recv_calls\": %ld, \"bytes\": %.0f}\n",
	       ops / elapsed, (double)ops * size * (pingpong ? 2 : 1) / elapsed / 1e6,
	       pingpong ? calls : server_calls, (double)ops * size);
	return 0;
}
