// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A synthetic producer: each run writes `count` copies of one block record,
 * numbered in info.start_ns from `first`, into `vigil_events`, waking the
 * consumer as the probes do. vigil-bench points it at vigild's pinned ring
 * buffer to measure what vigild costs per event at rates no workload on this
 * machine can make with real context switches; tests use it to check the ring
 * buffer consumer. */
#include "vigil_core.h"
#include <bpf/bpf_helpers.h>
#include "vigil_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23);
} vigil_events SEC(".maps");

/* Set by the benchmark before load. Not const: the record is copied from
 * memory, which the compiler must not fold into its initializer. */
struct vigil_block_record template_record = { .info = { .kind = VIGIL_RECORD_OFFCPU } };
const volatile __u64 wakeup_bytes = 1;

/* Records the ring buffer had no room for, over all runs. */
__u64 lost = 0;

struct producer_args {
	__u64 first;
	__u32 count;
	__u32 _pad;
};

static long emit_one(__u32 index, __u64 *first)
{
	struct vigil_block_record *rec = bpf_ringbuf_reserve(&vigil_events, sizeof(*rec), 0);
	if (!rec) {
		__sync_fetch_and_add(&lost, 1);
		return 0;
	}
	__builtin_memcpy(rec, (void *)&template_record, sizeof(*rec));
	rec->info.start_ns = *first + index;
	__u64 pending = bpf_ringbuf_query(&vigil_events, BPF_RB_AVAIL_DATA);
	bpf_ringbuf_submit(rec, pending >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	return 0;
}

SEC("syscall")
int vigil_produce(struct producer_args *args)
{
	__u64 first = args->first;
	bpf_loop(args->count, emit_one, &first, 0);
	return 0;
}
