// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Blocking probes: off-CPU episodes and futex waits of targeted processes. */
#include "vigil_core.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "vigil_abi.h"
#include "blocking_maps.h"
#include "blocking.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(vigil_switch, bool preempt, struct task_struct *prev, struct task_struct *next,
	     unsigned int prev_state)
{
	struct vigil_settings *settings = vigil_get_settings();
	if (!settings)
		return 0;
	__u64 now = 0;
	vigil_switch_out(prev, prev_state, settings, &now);
	vigil_switch_in(next, settings, &now);
	return 0;
}

SEC("tp_btf/sched_waking")
int BPF_PROG(vigil_waking, struct task_struct *p)
{
	struct vigil_settings *settings = vigil_get_settings();
	if (settings)
		vigil_note_waker(p, settings);
	return 0;
}

/* Interrupt context, so timer and device wake-ups are not blamed on a task. */
SEC("tp_btf/irq_handler_entry")
int BPF_PROG(vigil_irq_entry)
{
	vigil_interrupt_enter();
	return 0;
}

SEC("tp_btf/irq_handler_exit")
int BPF_PROG(vigil_irq_exit)
{
	vigil_interrupt_exit();
	return 0;
}

SEC("tp_btf/softirq_entry")
int BPF_PROG(vigil_softirq_entry)
{
	vigil_interrupt_enter();
	return 0;
}

SEC("tp_btf/softirq_exit")
int BPF_PROG(vigil_softirq_exit)
{
	vigil_interrupt_exit();
	return 0;
}

SEC("tp_btf/hrtimer_expire_entry")
int BPF_PROG(vigil_hrtimer_entry)
{
	vigil_interrupt_enter();
	return 0;
}

SEC("tp_btf/hrtimer_expire_exit")
int BPF_PROG(vigil_hrtimer_exit)
{
	vigil_interrupt_exit();
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vigil_exit, struct task_struct *p, bool group_dead)
{
	vigil_process_exit(p, group_dead);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vigil_exec, struct task_struct *p, int old_pid, struct linux_binprm *bprm)
{
	struct vigil_settings *settings = vigil_get_settings();
	if (settings)
		vigil_process_exec(p, settings);
	return 0;
}
