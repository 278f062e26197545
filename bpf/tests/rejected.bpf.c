// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A program the verifier must refuse (a map value used without its NULL
 * check), so tests can see the verifier log reach the error. */
#include "vigil_core.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} vigil_test_map SEC(".maps");

SEC("raw_tp/sched_switch")
int vigil_rejected(void *ctx)
{
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_elem(&vigil_test_map, &key);
	return *value; /* no NULL check: rejected */
}
