/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The few kernel types Vigil's programs read, trimmed from vmlinux and marked
 * preserve_access_index so libbpf relocates every field against the running
 * kernel's BTF (CO-RE). Only the fields used are declared.
 */
#ifndef VIGIL_CORE_H
#define VIGIL_CORE_H

#include <linux/types.h>
#include <linux/bpf.h>

typedef _Bool bool;
#define true 1
#define false 0

struct thread_struct {
	unsigned long fsbase;
} __attribute__((preserve_access_index));

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
	struct task_struct *group_leader;
	struct thread_struct thread;
} __attribute__((preserve_access_index));

/* x86-64 user register frame, as saved on kernel entry (ax: a syscall's return value).
 * Field order does not matter: CO-RE relocates each one. */
struct pt_regs {
	unsigned long cx;
	unsigned long bx;
	unsigned long di;
	unsigned long si;
	unsigned long dx;
	unsigned long r10;
	unsigned long r8;
	unsigned long r9;
	unsigned long ax;
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct linux_binprm;

/* A task-work slot in a map value (kernel 6.18+, see vigil_resume_work). */
struct bpf_task_work {
	__u64 __opaque;
};

/* Opaque here; complete (not forward) so kfunc prototypes match the kernel's. */
struct bpf_map {
} __attribute__((preserve_access_index));

/* The network namespace of a packet's device (tc programs). */
struct net {
	__u64 net_cookie;
} __attribute__((preserve_access_index));

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	possible_net_t nd_net;
} __attribute__((preserve_access_index));

struct sk_buff {
	struct net_device *dev;
} __attribute__((preserve_access_index));

#endif /* VIGIL_CORE_H */
