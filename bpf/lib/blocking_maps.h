/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Maps of the blocking probes. Names stay within 15 characters (pin names). */
#ifndef VIGIL_BLOCKING_MAPS_H
#define VIGIL_BLOCKING_MAPS_H

/* Records for user space; its size is set by the loader before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23);
} vigil_events SEC(".maps");

/* One struct vigil_settings, updated live by the daemon. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_settings);
} vigil_settings SEC(".maps");

/* Targeted processes by thread group id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct vigil_target);
} vigil_tgids SEC(".maps");

/* Targeted cgroup v2 directories by cgroup id (the directory's inode). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct vigil_target);
} vigil_cgroups SEC(".maps");

/* enum vigil_counter, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_COUNTER_MAX);
	__type(key, __u32);
	__type(value, __u64);
} vigil_counters SEC(".maps");

/* Per CPU: how many interrupt handlers are running (see vigil_in_interrupt). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} vigil_irq_depth SEC(".maps");

/* Go processes: where their threads keep the running goroutine (written by
 * the daemon once it has read the binary). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct vigil_go_process);
} vigil_go_procs SEC(".maps");

/* Per thread: the task work that writes its pending off-CPU episode when it
 * returns to user space. Only threads with an episode over the threshold get
 * an entry; vigil_exit removes it. */
struct vigil_resume_slot {
	struct bpf_task_work work;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct vigil_resume_slot);
} vigil_resume SEC(".maps");

/* Bumped by user space after every change of the target sets, so a thread's
 * target found once is reused until the sets change. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vigil_tgt_epoch SEC(".maps");

/* Per-thread episode state; freed by the kernel when the thread exits. */
struct vigil_task_state {
	__u64 off_since;     /* CLOCK_MONOTONIC at switch-out, 0 while on CPU */
	__u32 off_state;
	__u32 target_id;
	__u32 waker_pid;
	__u32 waker_tid;
	char waker_comm[VIGIL_COMM_LEN];

	/* An off-CPU episode over the threshold, reported when the thread next
	 * runs in its own context (on its way back to user space, or at its next
	 * switch-out). */
	__u64 pend_start;
	__u64 pend_duration;
	__u32 pend_state;
	__u32 pend_waker_pid;
	__u32 pend_waker_tid;
	__u32 has_pending;
	char pend_waker_comm[VIGIL_COMM_LEN];

	/* With thresholds under VIGIL_EAGER_STACK_NS: the stack and goroutine
	 * taken at switch-out, written with the episode at switch-in. */
	__s64 eager_goroutine;
	__s32 eager_stack_bytes;
	__u32 _pad;
	__u64 eager_stack[VIGIL_MAX_STACK_DEPTH];

	/* target_id holds while this equals vigil_tgt_epoch. */
	__u64 target_epoch;

	__u32 in_futex;
	__u32 futex_syscall;
	__u32 futex_op;
	__u64 futex_uaddr;
	__u64 futex_since;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct vigil_task_state);
} vigil_tasks SEC(".maps");

#endif /* VIGIL_BLOCKING_MAPS_H */
