/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one ABI between Vigil's BPF programs and its Swift code: every struct
 * that crosses the kernel boundary (ring buffer records, map keys and values)
 * is defined here, in fixed-width types, and included by both sides.
 * Change a layout => bump VIGIL_ABI_VERSION (it is part of the pin path).
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#if defined(__bpf__)
/* Types come from the trimmed CO-RE header included before this one. */
#else
#include <linux/types.h>
#endif

#define VIGIL_ABI_VERSION 3

#define VIGIL_COMM_LEN 16
#define VIGIL_MAX_STACK_DEPTH 32

/* Ring buffer record kinds. */
enum vigil_record_kind {
	VIGIL_RECORD_OFFCPU = 1, /* a targeted thread was off CPU longer than the threshold */
	VIGIL_RECORD_FUTEX = 2,  /* a targeted thread waited on a futex longer than the threshold */
	VIGIL_RECORD_EXEC = 3,   /* some process called exec (only when exec reporting is on) */
	VIGIL_RECORD_EXIT = 4,   /* a targeted process exited (its pid left the target set) */
	VIGIL_RECORD_GO_STATUS = 5, /* a goroutine changed status (goroutine trace sessions) */
};

/* Futex wait outcomes, from the syscall's return value. */
enum vigil_futex_outcome {
	VIGIL_FUTEX_WOKEN = 0,
	VIGIL_FUTEX_TIMED_OUT = 1,
	VIGIL_FUTEX_INTERRUPTED = 2,
	VIGIL_FUTEX_ERROR = 3,
};

/* Which futex syscall a wait came from. */
enum vigil_futex_syscall {
	VIGIL_FUTEX_SYS_FUTEX = 0,
	VIGIL_FUTEX_SYS_WAITV = 1,
	VIGIL_FUTEX_SYS_WAIT = 2,
};

/* A blocking episode (offcpu or futex), without its stack. */
struct vigil_block_info {
	__u32 kind;          /* VIGIL_RECORD_OFFCPU or VIGIL_RECORD_FUTEX */
	__u32 pid;           /* thread group id */
	__u32 tid;
	__u32 target_id;     /* the target rule that selected the process */
	__u64 start_ns;      /* CLOCK_MONOTONIC when the episode began */
	__u64 duration_ns;
	__u32 state;         /* offcpu: task state at switch-out (1 = interruptible, 2 = uninterruptible) */
	__u32 waker_pid;     /* 0 when nobody woke it (timeout, signal from irq) */
	__u32 waker_tid;
	__u32 futex_op;      /* futex: op argument (futex(2)) or syscall-specific flags */
	__u64 futex_uaddr;
	__s64 goroutine;     /* Go targets: the goroutine the thread ran (0: none, the scheduler's g0);
			      * -1 when the process is not a known Go process or g was unreadable */
	__s32 futex_ret;     /* futex: the syscall's return value */
	__u32 futex_outcome; /* enum vigil_futex_outcome */
	__u32 futex_syscall; /* enum vigil_futex_syscall */
	__s32 stack_bytes;   /* bytes of stack[] filled, or a negative errno */
	char comm[VIGIL_COMM_LEN];
	char waker_comm[VIGIL_COMM_LEN];
};

/* A blocking episode with the user stack taken in the thread's own context on
 * its way back to user space. The stack comes last, so user space can keep the
 * info of an event without it. */
struct vigil_block_record {
	struct vigil_block_info info;
	__u64 stack[VIGIL_MAX_STACK_DEPTH]; /* user-space return addresses, innermost first */
};

/* A process event: exec (for executable targets) or exit of a targeted process. */
struct vigil_process_record {
	__u32 kind; /* VIGIL_RECORD_EXEC or VIGIL_RECORD_EXIT */
	__u32 pid;
	__u32 target_id;
	__u32 _pad;
	char comm[VIGIL_COMM_LEN];
};

/* Live settings: one entry of the `vigil_settings` array map. */
struct vigil_settings {
	__u64 offcpu_min_ns;    /* report off-CPU episodes at least this long */
	__u64 futex_min_ns;     /* report futex waits at least this long */
	__u64 wakeup_bytes;     /* wake the consumer once this much data is pending */
	__u32 state_mask;       /* bit 0: interruptible, bit 1: uninterruptible */
	__u32 report_exec;      /* 1: emit VIGIL_RECORD_EXEC for every exec */
	__u32 stack_depth;      /* frames to capture, 0..VIGIL_MAX_STACK_DEPTH */
	__u32 has_cgroup_targets; /* 1: also look targets up by cgroup */
};

/* One goroutine status change, seen by the trace session's uprobe on
 * runtime.casgstatus(gp, oldval, newval). */
struct vigil_go_status_record {
	__u32 kind; /* VIGIL_RECORD_GO_STATUS */
	__u32 tid;  /* the thread that made the change */
	__u64 time_ns; /* CLOCK_MONOTONIC */
	__s64 goid;
	__u32 from;        /* runtime status values (_Grunning = 2, ...) */
	__u32 to;
	__u32 wait_reason; /* g.waitreason when the change was made */
	__u32 _pad;
};

/* Where a Go process keeps the running goroutine, for `vigil_go_procs` (by tgid):
 * the g pointer at fsbase + g_tls_offset, its id at g + goid_offset. */
struct vigil_go_process {
	__s64 g_tls_offset;
	__u64 goid_offset;
};

/* Value of the target maps (by tgid and by cgroup id). */
struct vigil_target {
	__u32 target_id;
	__u32 flags;
};

/* Indexes of the per-CPU `vigil_counters` array. */
enum vigil_counter {
	VIGIL_COUNTER_EMITTED = 0,    /* records written to the ring buffer */
	VIGIL_COUNTER_RB_LOST = 1,    /* records lost because the ring buffer was full */
	VIGIL_COUNTER_STACK_FAIL = 2, /* episodes whose stack could not be read */
	VIGIL_COUNTER_WORK_FAIL = 3,  /* episodes whose resume work could not be scheduled */
	VIGIL_COUNTER_MAX = 4,
};

#define VIGIL_STATE_INTERRUPTIBLE 1u
#define VIGIL_STATE_UNINTERRUPTIBLE 2u

/* ---- Network policy ------------------------------------------------------
 *
 * A generation of policy is three inner maps (address line, values, endpoint
 * defaults) in one slot of the outer maps. The datapath reads `vigil_pol_state`
 * once per packet to learn the active slot, so a flip is one array write.
 *
 * The address line of an endpoint direction is its address space cut into
 * intervals: sorted boundaries, each giving the value of the addresses from it
 * up to the next boundary. The classifier finds an address's interval by
 * binary search. User space writes both arrays through a memory mapping, so
 * filling a generation costs no system call per entry.
 */

#define VIGIL_POLICY_MAX_RANGES 16 /* port ranges per address block and endpoint direction */
#define VIGIL_POLICY_SLOTS 3       /* live, previous (being released), spare */
#define VIGIL_POLICY_MAX_ENDPOINTS 1024
#define VIGIL_POLICY_COUNTER_BITS 22 /* counter indexes per generation: up to 4,194,304 */
#define VIGIL_POLICY_SEARCH_STEPS 26 /* binary search steps: address lines up to 2^26 - 1 boundaries */
#define VIGIL_POLICY_NO_VALUE 0xffffffffu

enum vigil_direction {
	VIGIL_DIR_INGRESS = 0, /* arriving at the workload */
	VIGIL_DIR_EGRESS = 1,  /* sent by the workload */
};

enum vigil_policy_action {
	VIGIL_ACTION_NONE = 0,
	VIGIL_ACTION_ALLOW = 1,
	VIGIL_ACTION_DENY = 2,
};

/* Where an interval of the address line starts, and its value. Addresses are
 * 16 bytes, IPv4 mapped as ::ffff:a.b.c.d, read as two big-endian numbers. */
struct vigil_policy_boundary {
	__u64 addr_hi; /* bytes 0-7 of the address, as a number */
	__u64 addr_lo; /* bytes 8-15 */
	__u32 value;   /* index in the generation's values, or VIGIL_POLICY_NO_VALUE: no rule */
	__u32 _pad;
};

/* One allowed or denied protocol and port interval, in 8 bytes (a value holds
 * 16 of them, so its size drives kernel memory). The rule's counter index is
 * 22 bits: the low 16 in counter_lo, the high 6 above the action. */
struct vigil_port_range {
	__u8 protocol;    /* IPPROTO_*; 0 = any protocol */
	__u8 action_hi;   /* bits 0-1: VIGIL_ACTION_ALLOW or _DENY; bits 2-7: counter bits 16-21 */
	__u16 counter_lo; /* counter bits 0-15 */
	__u16 port_lo;    /* destination port interval, host order; 0..65535 = any */
	__u16 port_hi;
};

/* What an address block allows and denies for one endpoint direction. Every
 * rule whose block contains this one (minus its `except` blocks) is here. */
struct vigil_policy_value {
	__u32 count; /* ranges used */
	__u32 _pad;
	struct vigil_port_range ranges[VIGIL_POLICY_MAX_RANGES];
};

/* Per endpoint direction (array index endpoint << 1 | direction): its part of
 * the address line, and the verdict for traffic no rule matches. Endpoints a
 * generation does not manage have action NONE and pass untouched. */
struct vigil_endpoint_policy {
	__u8 default_action; /* VIGIL_ACTION_ALLOW, VIGIL_ACTION_DENY, or NONE (unmanaged) */
	__u8 audit;          /* 1: evaluate and count, never drop */
	__u16 _pad;
	__u32 default_counter;
	__u32 first_boundary; /* boundaries [first_boundary, first_boundary + boundary_count) */
	__u32 boundary_count;
};

/* Interface endpoints: which endpoint an interface of a network namespace is. */
struct vigil_interface_key {
	__u64 netns_cookie;
	__u32 ifindex;
	__u32 _pad;
};

/* The active generation (one entry of `vigil_pol_state`). */
struct vigil_policy_state {
	__u32 slot;       /* VIGIL_POLICY_SLOTS means no policy */
	__u32 _pad;
	__u64 generation;
};

/* Per-CPU packet and byte counts of one rule or default verdict. */
struct vigil_policy_counter {
	__u64 packets;
	__u64 bytes;
};

#endif /* VIGIL_ABI_H */
