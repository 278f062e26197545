// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* An empty tcx program: passes every packet on. vigil-policy-bench attaches it
 * to tell the cost of a tcx program being there from the classifier's own. */
#include "vigil_core.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCX_NEXT -1

SEC("tc")
int vigil_test_tcx_pass(struct __sk_buff *skb)
{
	return TCX_NEXT;
}
