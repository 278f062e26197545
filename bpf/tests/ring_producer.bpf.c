// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A synthetic producer for the consumer benchmark: each run writes `count`
 * copies of one block record into a ring buffer that the benchmark points at
 * vigild's pinned `vigil_events`, waking the consumer as the probes do. It
 * measures what vigild costs per event at rates no workload on this machine
 * can make with real context switches. */
#include "vigil_core.h"
#include <bpf/bpf_helpers.h>
#include "vigil_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 23);
} vigil_events SEC(".maps");

/* Set by the benchmark before load. */
const volatile struct vigil_block_record template_record = {};
const volatile __u64 wakeup_bytes = 1;

/* Records the ring buffer had no room for, over all runs. */
__u64 lost = 0;

struct producer_args {
	__u32 count;
};

static long emit_one(__u32 index, void *unused)
{
	__u64 pending = bpf_ringbuf_query(&vigil_events, BPF_RB_AVAIL_DATA);
	__u64 flags = pending >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&vigil_events, (void *)&template_record, sizeof(template_record),
			       flags))
		__sync_fetch_and_add(&lost, 1);
	return 0;
}

SEC("syscall")
int vigil_produce(struct producer_args *args)
{
	bpf_loop(args->count, emit_one, NULL, 0);
	return 0;
}
