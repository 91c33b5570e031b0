// SPDX-License-Identifier: GPL-2.0
/* Lab 00: load hello.bpf.o with libbpf, attach it, print each event.
 *     ./hello BUILD_DIR/hello.bpf.o      (Ctrl-C to stop) */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <bpf/libbpf.h>
#include "hello.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct hello_event *e = data;

	(void)ctx;
	if (len < sizeof(*e))
		return 0;
	printf("hello: pid %u comm %s execve %s\n", e->pid, e->comm, e->filename);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	struct bpf_link *link = NULL;
	struct ring_buffer *rb = NULL;
	int err = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s HELLO.bpf.o\n", argv[0]);
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "hello: cannot open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "hello: loading failed (the verifier's log is above)\n");
		goto out;
	}
	prog = bpf_object__find_program_by_name(obj, "hello");
	link = prog ? bpf_program__attach(prog) : NULL;
	if (!link) {
		fprintf(stderr, "hello: attaching to the execve tracepoint failed: %s\n", strerror(errno));
		goto out;
	}
	rb = ring_buffer__new(bpf_object__find_map_fd_by_name(obj, "events"), on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "hello: no ring buffer \"events\"\n");
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);
	while (!stop)
		if (ring_buffer__poll(rb, 100) < 0 && errno != EINTR)
			break;
	err = 0;
out:
	ring_buffer__free(rb);
	bpf_link__destroy(link);
	bpf_object__close(obj);
	return err;
}
