/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Logic of the blocking probes, as inline helpers the entry programs call.
 *
 * Off-CPU: a targeted thread that switches out asleep (interruptible or
 * uninterruptible) gets a timestamp; whoever wakes it is noted; when it is
 * switched back in and the episode passed the threshold, the episode becomes
 * pending. Its user stack is unchanged until it returns to user space, so a
 * task work scheduled at switch-in writes the record on its way back, in its
 * own context, where the stack can be read. Only episodes over the threshold
 * pay for a stack, and nothing runs on other threads' syscalls.
 *
 * Futex: a sleep that reaches the futex threshold is checked at switch-in:
 * if the thread sleeps inside a futex wait syscall (its saved registers say
 * so), the same task work writes the wait with the syscall's return value.
 * No probe runs on syscalls.
 *
 * Under VIGIL_EAGER_STACK_NS, stacks are taken at switch-out instead and
 * off-CPU episodes written at switch-in (see there).
 */
#ifndef VIGIL_BLOCKING_H
#define VIGIL_BLOCKING_H

#define VIGIL_MAX_CGROUP_LEVELS 16

#define FUTEX_WAIT 0
#define FUTEX_LOCK_PI 6
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_LOCK_PI2 13
#define FUTEX_CMD_MASK 127

#define EINTR 4
#define EBUSY 16
#define ETIMEDOUT 110
#define ERESTARTSYS 512
#define ERESTARTNOINTR 513
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

/* Off-CPU thresholds under this take a sleeping targeted thread's stack at
 * switch-out and write its episode at switch-in. When nearly every sleep is
 * reported, that is cheaper than a task work per episode (each one costs an
 * interrupt); above it, most sleeps are too short to pay for a stack. */
#define VIGIL_EAGER_STACK_NS 1000000ULL

#define NR_FUTEX 202
#define NR_RESTART_SYSCALL 219
#define NR_FUTEX_WAITV 449
#define NR_FUTEX_WAIT 455

extern int bpf_task_work_schedule_resume_impl(struct task_struct *task, struct bpf_task_work *tw,
					      void *map__map,
					      int (*callback)(struct bpf_map *map, void *key,
							      void *value),
					      void *aux__prog) __ksym;

/* The time of the switch being handled, read once: both of its sides need it
 * for a targeted thread going to sleep and another waking up. */
static __always_inline __u64 vigil_switch_time(__u64 *now)
{
	if (!*now)
		*now = bpf_ktime_get_ns();
	return *now;
}

static __always_inline void vigil_count(__u32 counter)
{
	__u64 *value = bpf_map_lookup_elem(&vigil_counters, &counter);
	if (value)
		*value += 1;
}

static __always_inline struct vigil_settings *vigil_get_settings(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&vigil_settings, &zero);
}

/* The target that selects the current task: by tgid, else by its cgroup or
 * one of the cgroup's ancestors. Valid only for the current task. */
static __always_inline struct vigil_target *vigil_current_target(__u32 tgid,
								 const struct vigil_settings *settings)
{
	struct vigil_target *target = bpf_map_lookup_elem(&vigil_tgids, &tgid);
	if (target || !settings->has_cgroup_targets)
		return target;

	__u64 cgroup_id = bpf_get_current_cgroup_id();
	target = bpf_map_lookup_elem(&vigil_cgroups, &cgroup_id);
	if (target)
		return target;

	for (int level = 1; level < VIGIL_MAX_CGROUP_LEVELS; level++) {
		__u64 ancestor = bpf_get_current_ancestor_cgroup_id(level);
		if (ancestor == 0 || ancestor == cgroup_id)
			break;
		target = bpf_map_lookup_elem(&vigil_cgroups, &ancestor);
		if (target)
			return target;
	}
	return NULL;
}

/* Submit a record, waking the consumer only once enough data is pending. */
static __always_inline void vigil_submit(void *record, const struct vigil_settings *settings)
{
	__u64 pending = bpf_ringbuf_query(&vigil_events, BPF_RB_AVAIL_DATA);
	__u64 flags = pending >= settings->wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	bpf_ringbuf_submit(record, flags);
	vigil_count(VIGIL_COUNTER_EMITTED);
}

/* The goroutine the current thread runs, from the g pointer in its TLS; see
 * vigil_block_record.goroutine. */
static __always_inline __s64 vigil_current_goroutine(__u32 tgid)
{
	struct vigil_go_process *go = bpf_map_lookup_elem(&vigil_go_procs, &tgid);
	if (!go)
		return -1;
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 g = 0;
	__s64 goid = 0;
	if (bpf_probe_read_user(&g, sizeof(g), (void *)(task->thread.fsbase + go->g_tls_offset)))
		return -1;
	if (!g)
		return 0;
	if (bpf_probe_read_user(&goid, sizeof(goid), (void *)(g + go->goid_offset)))
		return -1;
	return goid;
}

/* Reserve a block record for the current thread, filled with its identity and stack. */
static __always_inline struct vigil_block_record *
vigil_reserve_block(__u32 kind, __u64 id, const struct vigil_task_state *task,
		    const struct vigil_settings *settings)
{
	struct vigil_block_record *rec = bpf_ringbuf_reserve(&vigil_events, sizeof(*rec), 0);
	if (!rec) {
		vigil_count(VIGIL_COUNTER_RB_LOST);
		return NULL;
	}
	rec->info.kind = kind;
	rec->info.pid = id >> 32;
	rec->info.tid = (__u32)id;
	rec->info.target_id = task->target_id;
	rec->info.goroutine = vigil_current_goroutine(rec->info.pid);
	bpf_get_current_comm(rec->info.comm, sizeof(rec->info.comm));

	__u32 depth = settings->stack_depth;
	if (depth > VIGIL_MAX_STACK_DEPTH)
		depth = VIGIL_MAX_STACK_DEPTH;
	long bytes = 0;
	if (depth > 0)
		bytes = bpf_get_task_stack(bpf_get_current_task_btf(), rec->stack,
					   depth * sizeof(__u64), BPF_F_USER_STACK);
	if (bytes < 0)
		vigil_count(VIGIL_COUNTER_STACK_FAIL);
	rec->info.stack_bytes = bytes;
	return rec;
}

/* The futex fields of an off-CPU record. */
static __always_inline void vigil_no_futex(struct vigil_block_record *rec)
{
	rec->info.futex_op = 0;
	rec->info.futex_uaddr = 0;
	rec->info.futex_ret = 0;
	rec->info.futex_outcome = 0;
	rec->info.futex_syscall = 0;
}

/* Write the pending off-CPU episode of the current thread, if any. */
static __always_inline void vigil_flush_offcpu(__u64 id, struct vigil_task_state *task,
					       const struct vigil_settings *settings)
{
	if (!task->has_pending)
		return;
	task->has_pending = 0;

	struct vigil_block_record *rec = vigil_reserve_block(VIGIL_RECORD_OFFCPU, id, task, settings);
	if (!rec)
		return;
	rec->info.start_ns = task->pend_start;
	rec->info.duration_ns = task->pend_duration;
	rec->info.state = task->pend_state;
	rec->info.waker_pid = task->pend_waker_pid;
	rec->info.waker_tid = task->pend_waker_tid;
	__builtin_memcpy(rec->info.waker_comm, task->pend_waker_comm, sizeof(rec->info.waker_comm));
	vigil_no_futex(rec);
	vigil_submit(rec, settings);
}

static __always_inline bool vigil_futex_op_waits(__u32 op)
{
	__u32 cmd = op & FUTEX_CMD_MASK;
	return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_LOCK_PI ||
	       cmd == FUTEX_WAIT_REQUEUE_PI || cmd == FUTEX_LOCK_PI2;
}

/* At switch-in, for a sleep long enough to be reported as a futex wait: was
 * it one? The thread is still inside the syscall, so its saved user registers
 * name it and its arguments. A wait that sleeps again (spurious wake-up)
 * before its record is written keeps its start. Done here rather than at
 * every switch-out, where most sleeps are too short to matter. */
static __always_inline void vigil_futex_check(struct task_struct *next, struct vigil_task_state *task,
					      __u64 slept_at)
{
	if (task->in_futex)
		return;
	/* A trusted pointer: plain loads, no helper calls. */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(next);
	__u64 nr = regs->orig_ax;
	__u32 syscall;
	__u32 op;
	if (nr == NR_FUTEX) {
		op = regs->si;
		if (!vigil_futex_op_waits(op))
			return;
		syscall = VIGIL_FUTEX_SYS_FUTEX;
	} else if (nr == NR_FUTEX_WAITV) {
		op = regs->dx; /* flags */
		syscall = VIGIL_FUTEX_SYS_WAITV;
	} else if (nr == NR_FUTEX_WAIT) {
		op = regs->r10; /* flags */
		syscall = VIGIL_FUTEX_SYS_WAIT;
	} else {
		return;
	}
	task->in_futex = 1;
	task->futex_syscall = syscall;
	task->futex_op = op;
	task->futex_uaddr = regs->di;
	task->futex_since = slept_at;
}

/* Eager mode, at switch-out (the thread is current): its stack and goroutine. */
static __always_inline void vigil_take_stack(struct vigil_task_state *task, __u32 tgid,
					     const struct vigil_settings *settings)
{
	__u32 depth = settings->stack_depth;
	if (depth > VIGIL_MAX_STACK_DEPTH)
		depth = VIGIL_MAX_STACK_DEPTH;
	long bytes = 0;
	if (depth > 0)
		bytes = bpf_get_task_stack(bpf_get_current_task_btf(), task->eager_stack,
					   depth * sizeof(__u64), BPF_F_USER_STACK);
	task->eager_stack_bytes = bytes;
	task->eager_goroutine = vigil_current_goroutine(tgid);
}

/* Eager mode, at switch-in: writes the episode of `next` with what its
 * switch-out took. */
static __always_inline void vigil_write_eager(struct task_struct *next, struct vigil_task_state *task,
					      __u64 slept_at, __u64 duration,
					      const struct vigil_settings *settings)
{
	struct vigil_block_record *rec = bpf_ringbuf_reserve(&vigil_events, sizeof(*rec), 0);
	if (!rec) {
		vigil_count(VIGIL_COUNTER_RB_LOST);
		return;
	}
	rec->info.kind = VIGIL_RECORD_OFFCPU;
	rec->info.pid = next->tgid;
	rec->info.tid = next->pid;
	rec->info.target_id = task->target_id;
	rec->info.goroutine = task->eager_goroutine;
	bpf_probe_read_kernel_str(rec->info.comm, sizeof(rec->info.comm), next->comm);
	rec->info.start_ns = slept_at;
	rec->info.duration_ns = duration;
	rec->info.state = task->off_state;
	rec->info.waker_pid = task->waker_pid;
	rec->info.waker_tid = task->waker_tid;
	__builtin_memcpy(rec->info.waker_comm, task->waker_comm, sizeof(rec->info.waker_comm));
	vigil_no_futex(rec);
	rec->info.stack_bytes = task->eager_stack_bytes;
	if (task->eager_stack_bytes < 0)
		vigil_count(VIGIL_COUNTER_STACK_FAIL);
	__builtin_memcpy(rec->stack, task->eager_stack, sizeof(rec->stack));
	vigil_submit(rec, settings);
}

/* sched_switch, outgoing side (prev is current): start an episode for a
 * targeted thread going to sleep. */
static __always_inline void vigil_switch_out(struct task_struct *prev, __u32 prev_state,
					     const struct vigil_settings *settings, __u64 *now)
{
	__u32 state = prev_state & (VIGIL_STATE_INTERRUPTIBLE | VIGIL_STATE_UNINTERRUPTIBLE);
	if (!state)
		return;

	__u64 id = bpf_get_current_pid_tgid();
	/* Read before the target sets, so a change made meanwhile is not cached. */
	__u32 zero = 0;
	__u64 *epoch = bpf_map_lookup_elem(&vigil_tgt_epoch, &zero);
	if (!epoch)
		return;
	__u64 seen_epoch = *epoch;
	struct vigil_task_state *task = bpf_task_storage_get(&vigil_tasks, prev, 0, 0);
	if (!task || task->target_epoch != seen_epoch) {
		struct vigil_target *target = vigil_current_target(id >> 32, settings);
		if (!target)
			return;
		__u32 target_id = target->target_id;
		if (!task)
			task = bpf_task_storage_get(&vigil_tasks, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
		if (!task)
			return;
		task->target_id = target_id;
		task->target_epoch = seen_epoch;
	}
	/* An episode whose task work has not run (it could not be scheduled,
	 * or the thread sleeps again before leaving the kernel) is written now,
	 * with the stack the thread has here: it has not been back to user
	 * space since. */
	vigil_flush_offcpu(id, task, settings);

	task->waker_pid = 0;
	task->waker_tid = 0;
	task->waker_comm[0] = 0;
	task->off_since = vigil_switch_time(now);
	task->off_state = state;
	if ((state & settings->state_mask) && settings->offcpu_min_ns < VIGIL_EAGER_STACK_NS)
		vigil_take_stack(task, id >> 32, settings);
}

static __always_inline __u32 vigil_futex_outcome(long ret, __u64 nr)
{
	/* A restarted syscall has its number back in the return register. */
	if (ret == nr || ret == NR_RESTART_SYSCALL)
		return VIGIL_FUTEX_INTERRUPTED;
	if (ret >= 0)
		return VIGIL_FUTEX_WOKEN;
	if (ret == -ETIMEDOUT)
		return VIGIL_FUTEX_TIMED_OUT;
	if (ret == -EINTR || ret == -ERESTARTSYS || ret == -ERESTARTNOINTR ||
	    ret == -ERESTARTNOHAND || ret == -ERESTART_RESTARTBLOCK)
		return VIGIL_FUTEX_INTERRUPTED;
	return VIGIL_FUTEX_ERROR;
}

/* Write the current thread's futex wait, now that its syscall has returned. */
static __always_inline void vigil_flush_futex(__u64 id, struct vigil_task_state *task,
					      const struct vigil_settings *settings)
{
	if (!task->in_futex)
		return;
	task->in_futex = 0;

	struct vigil_block_record *rec = vigil_reserve_block(VIGIL_RECORD_FUTEX, id, task, settings);
	if (!rec)
		return;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	long ret = regs->ax;
	rec->info.start_ns = task->futex_since;
	rec->info.duration_ns = bpf_ktime_get_ns() - task->futex_since;
	rec->info.state = 0;
	/* The waker of the thread's last sleep, which was this wait. */
	rec->info.waker_pid = task->waker_pid;
	rec->info.waker_tid = task->waker_tid;
	__builtin_memcpy(rec->info.waker_comm, task->waker_comm, sizeof(rec->info.waker_comm));
	rec->info.futex_op = task->futex_op;
	rec->info.futex_uaddr = task->futex_uaddr;
	rec->info.futex_ret = ret;
	rec->info.futex_outcome = vigil_futex_outcome(ret, regs->orig_ax);
	rec->info.futex_syscall = task->futex_syscall;
	vigil_submit(rec, settings);
}

/* Task work, in the thread's own context on its way back to user space:
 * write its pending episodes with the stack it blocked with. */
static int vigil_resume_work(struct bpf_map *map, void *key, void *value)
{
	struct vigil_settings *settings = vigil_get_settings();
	if (!settings)
		return 0;
	struct vigil_task_state *task =
		bpf_task_storage_get(&vigil_tasks, bpf_get_current_task_btf(), 0, 0);
	if (!task)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	vigil_flush_futex(id, task, settings);
	vigil_flush_offcpu(id, task, settings);
	return 0;
}

/* Have `next` write its pending episodes when it returns to user space;
 * false if that could not be arranged. Work already scheduled and not yet
 * run (-EBUSY) will write them. */
static __always_inline bool vigil_schedule_resume_work(struct task_struct *next)
{
	__u32 tid = next->pid;
	struct vigil_resume_slot *slot = bpf_map_lookup_elem(&vigil_resume, &tid);
	if (!slot) {
		struct vigil_resume_slot fresh = {};
		bpf_map_update_elem(&vigil_resume, &tid, &fresh, BPF_NOEXIST);
		slot = bpf_map_lookup_elem(&vigil_resume, &tid);
		if (!slot)
			return false;
	}
	long err = bpf_task_work_schedule_resume_impl(next, &slot->work, &vigil_resume,
						      vigil_resume_work, NULL);
	return err == 0 || err == -EBUSY;
}

/* sched_switch, incoming side: close the episodes of `next`; those over
 * their threshold are written by a task work when it leaves the kernel. */
static __always_inline void vigil_switch_in(struct task_struct *next,
					    const struct vigil_settings *settings, __u64 *now)
{
	struct vigil_task_state *task = bpf_task_storage_get(&vigil_tasks, next, 0, 0);
	if (!task)
		return;

	if (!task->off_since)
		return;
	__u64 slept_at = task->off_since;
	__u64 duration = vigil_switch_time(now) - slept_at;
	task->off_since = 0;
	if ((task->off_state & settings->state_mask) && duration >= settings->offcpu_min_ns) {
		if (settings->offcpu_min_ns < VIGIL_EAGER_STACK_NS) {
			vigil_write_eager(next, task, slept_at, duration, settings);
		} else {
			task->pend_start = slept_at;
			task->pend_duration = duration;
			task->pend_state = task->off_state;
			task->pend_waker_pid = task->waker_pid;
			task->pend_waker_tid = task->waker_tid;
			__builtin_memcpy(task->pend_waker_comm, task->waker_comm,
					 sizeof(task->waker_comm));
			task->has_pending = 1;
		}
	}
	if (duration >= settings->futex_min_ns)
		vigil_futex_check(next, task, slept_at);
	if (!task->has_pending && !task->in_futex)
		return;
	if (vigil_schedule_resume_work(next))
		return;
	/* The off-CPU episode is written at the next switch-out instead; the
	 * futex wait's outcome would be gone by then. */
	vigil_count(VIGIL_COUNTER_WORK_FAIL);
	task->in_futex = 0;
}

/* Interrupt handlers (hard irq, softirq, hrtimer callbacks) entered and not
 * yet left on this CPU. A wake-up inside one was caused by a timer or a
 * device, not by the task the interrupt happened to land on. */
static __always_inline __u32 *vigil_interrupt_depth(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&vigil_irq_depth, &zero);
}

static __always_inline void vigil_interrupt_enter(void)
{
	__u32 *depth = vigil_interrupt_depth();
	if (depth)
		*depth += 1;
}

static __always_inline void vigil_interrupt_exit(void)
{
	__u32 *depth = vigil_interrupt_depth();
	if (depth && *depth > 0) /* attached mid-handler: never below zero */
		*depth -= 1;
}

static __always_inline bool vigil_in_interrupt(void)
{
	__u32 *depth = vigil_interrupt_depth();
	return depth && *depth > 0;
}

/* sched_waking: the current task wakes `p`; note it if `p` is asleep in an
 * episode that may be reported. Most wake-ups end sleeps far shorter than the
 * thresholds: those under half the smaller threshold are skipped, so an
 * episode that reaches its threshold only by waiting long for a CPU after
 * its wake-up has no waker. Wake-ups from interrupt context (timers, devices)
 * have no waker task. */
static __always_inline void vigil_note_waker(struct task_struct *p,
					     const struct vigil_settings *settings)
{
	struct vigil_task_state *task = bpf_task_storage_get(&vigil_tasks, p, 0, 0);
	if (!task || !task->off_since)
		return;
	__u64 threshold = settings->offcpu_min_ns < settings->futex_min_ns ? settings->offcpu_min_ns
									 : settings->futex_min_ns;
	if (bpf_ktime_get_ns() - task->off_since < threshold / 2)
		return;
	if (vigil_in_interrupt()) {
		task->waker_pid = 0;
		task->waker_tid = 0;
		task->waker_comm[0] = 0;
		return;
	}
	__u64 id = bpf_get_current_pid_tgid();
	task->waker_pid = id >> 32;
	task->waker_tid = (__u32)id;
	bpf_get_current_comm(task->waker_comm, sizeof(task->waker_comm));
}

/* sched_process_exit: the thread's task-work slot goes; a targeted process's
 * last thread leaves the target set. */
static __always_inline void vigil_process_exit(struct task_struct *p, bool group_dead)
{
	__u32 tid = p->pid;
	bpf_map_delete_elem(&vigil_resume, &tid);
	if (!group_dead)
		return;
	__u32 tgid = BPF_CORE_READ(p, tgid);
	bpf_map_delete_elem(&vigil_go_procs, &tgid);
	struct vigil_target *target = bpf_map_lookup_elem(&vigil_tgids, &tgid);
	if (!target)
		return;
	__u32 target_id = target->target_id;
	bpf_map_delete_elem(&vigil_tgids, &tgid);

	struct vigil_process_record *rec = bpf_ringbuf_reserve(&vigil_events, sizeof(*rec), 0);
	if (!rec) {
		vigil_count(VIGIL_COUNTER_RB_LOST);
		return;
	}
	rec->kind = VIGIL_RECORD_EXIT;
	rec->pid = tgid;
	rec->target_id = target_id;
	rec->_pad = 0;
	BPF_CORE_READ_STR_INTO(&rec->comm, p, comm);
	bpf_ringbuf_submit(rec, BPF_RB_FORCE_WAKEUP);
	vigil_count(VIGIL_COUNTER_EMITTED);
}

/* sched_process_exec: a new program (no longer the Go one described, if any);
 * tell user space, which matches executable targets. */
static __always_inline void vigil_process_exec(struct task_struct *p,
					       const struct vigil_settings *settings)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	bpf_map_delete_elem(&vigil_go_procs, &tgid);
	if (!settings->report_exec)
		return;
	struct vigil_process_record *rec = bpf_ringbuf_reserve(&vigil_events, sizeof(*rec), 0);
	if (!rec) {
		vigil_count(VIGIL_COUNTER_RB_LOST);
		return;
	}
	rec->kind = VIGIL_RECORD_EXEC;
	rec->pid = tgid;
	rec->target_id = 0;
	rec->_pad = 0;
	BPF_CORE_READ_STR_INTO(&rec->comm, p, comm);
	bpf_ringbuf_submit(rec, BPF_RB_FORCE_WAKEUP);
	vigil_count(VIGIL_COUNTER_EMITTED);
}

#endif /* VIGIL_BLOCKING_H */
