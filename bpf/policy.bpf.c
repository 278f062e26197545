// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Policy classifier: tcx programs for interface endpoints, cgroup_skb
 * programs for cgroup endpoints. The policy itself lives in maps. */
#include "vigil_core.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include "vigil_abi.h"
#include "policy_maps.h"
#include "policy.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TCX_NEXT -1
#define TC_ACT_SHOT 2
#define ETH_HEADER_LENGTH 14

extern void *bpf_cast_to_kern_ctx(void *ctx) __ksym;

/* The cookie of the network namespace of the device the packet is on.
 * bpf_get_netns_cookie() follows skb->sk, which arriving packets do not have
 * yet, so read the device's namespace instead. */
static __always_inline __u64 vigil_device_netns_cookie(struct __sk_buff *skb)
{
	struct sk_buff *kskb = bpf_cast_to_kern_ctx(skb);
	struct net_device *dev = kskb->dev;
	if (!dev)
		return 0;
	/* Trusted pointers: plain loads, no helper calls. */
	struct net *net = dev->nd_net.net;
	return net ? net->net_cookie : 0;
}

static __always_inline int vigil_tc(struct __sk_buff *skb, __u32 direction)
{
	struct vigil_interface_key place = {
		.netns_cookie = vigil_device_netns_cookie(skb),
		.ifindex = skb->ifindex,
	};
	return vigil_classify(skb, &place, false, direction, ETH_HEADER_LENGTH) ? TCX_NEXT : TC_ACT_SHOT;
}

/* The place of a cgroup_skb packet: its socket's cgroup (ifindex 0, which no device has). */
static __always_inline int vigil_cg(struct __sk_buff *skb, __u32 direction)
{
	struct vigil_interface_key place = {.netns_cookie = bpf_skb_cgroup_id(skb)};
	return vigil_classify(skb, &place, true, direction, 0);
}

SEC("tc")
int vigil_tc_ingress(struct __sk_buff *skb)
{
	return vigil_tc(skb, VIGIL_DIR_INGRESS);
}

SEC("tc")
int vigil_tc_egress(struct __sk_buff *skb)
{
	return vigil_tc(skb, VIGIL_DIR_EGRESS);
}

SEC("cgroup_skb/ingress")
int vigil_cg_ingress(struct __sk_buff *skb)
{
	return vigil_cg(skb, VIGIL_DIR_INGRESS);
}

SEC("cgroup_skb/egress")
int vigil_cg_egress(struct __sk_buff *skb)
{
	return vigil_cg(skb, VIGIL_DIR_EGRESS);
}
