// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Goroutine trace sessions: every status change of one Go process's
 * goroutines, for a few seconds on request. A uprobe on the entry of
 * runtime.casgstatus(gp, oldval, newval) reads its arguments from Go's
 * register ABI (amd64: AX, BX, CX). Attached to one process only, and never by
 * default: it costs about a microsecond per change (FACTS.md).
 */
#include "vigil_core.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "vigil_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Offsets in runtime.g of the traced binary, set before load. */
const volatile __u64 goid_offset = 0;
const volatile __u64 waitreason_offset = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} vigil_go_status SEC(".maps");

/* Changes lost because the ring buffer was full. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vigil_go_lost SEC(".maps");

static __always_inline void vigil_record_status(__u64 gp, __u32 from, __u32 to)
{
	struct vigil_go_status_record *rec =
		bpf_ringbuf_reserve(&vigil_go_status, sizeof(*rec), 0);
	if (!rec) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&vigil_go_lost, &zero);
		if (lost)
			__sync_fetch_and_add(lost, 1);
		return;
	}
	__u8 reason = 0;
	rec->kind = VIGIL_RECORD_GO_STATUS;
	rec->tid = (__u32)bpf_get_current_pid_tgid();
	rec->time_ns = bpf_ktime_get_ns();
	rec->goid = 0;
	bpf_probe_read_user(&rec->goid, sizeof(rec->goid), (void *)(gp + goid_offset));
	bpf_probe_read_user(&reason, sizeof(reason), (void *)(gp + waitreason_offset));
	rec->from = from;
	rec->to = to;
	rec->wait_reason = reason;
	rec->_pad = 0;
	/* The session drains on a short poll: no wake-up per change. */
	bpf_ringbuf_submit(rec, BPF_RB_NO_WAKEUP);
}

SEC("uprobe")
int vigil_casgstatus(struct pt_regs *ctx)
{
	vigil_record_status(ctx->ax, (__u32)ctx->bx, (__u32)ctx->cx);
	return 0;
}
