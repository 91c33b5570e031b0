/* Lab 00: what the execve tracepoint program hands to user space. */
#ifndef HELLO_H
#define HELLO_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define HELLO_COMM_LEN 16
#define HELLO_FILENAME_LEN 128

struct hello_event {
	__u32 pid;
	char comm[HELLO_COMM_LEN];
	char filename[HELLO_FILENAME_LEN];
};

#endif
