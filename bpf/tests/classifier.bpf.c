// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A trivial classifier for testing BPF_PROG_TEST_RUN through the wrapper:
 * drops packets longer than 100 bytes. */
#include "vigil_core.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int vigil_test_classifier(struct __sk_buff *skb)
{
	return skb->len > 100 ? 2 /* TC_ACT_SHOT */ : 0 /* TC_ACT_OK */;
}
