/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Logic of the policy classifier, as inline helpers the entry programs call.
 *
 * Per packet: read the active slot once (so a packet sees one whole
 * generation) and parse the packet. The flow this CPU last passed in this
 * direction, if the packet is of it and the generation is the same, passes at
 * once. Otherwise find the endpoint, then either follow the flow in connection
 * tracking or evaluate the generation's rules for the remote address (its
 * interval of the address line) and destination port (ranges in the interval's
 * value). Denies win; no match takes the endpoint direction's default. A flow
 * allowed by an older generation is evaluated again under the new one on its
 * next packet.
 */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#define VIGIL_ETH_P_IP 0x0800
#define VIGIL_ETH_P_IPV6 0x86DD
#define VIGIL_PROTO_ICMP 1
#define VIGIL_PROTO_TCP 6
#define VIGIL_PROTO_UDP 17
#define VIGIL_PROTO_ICMPV6 58
#define VIGIL_PROTO_SCTP 132
#define VIGIL_NO_COUNTER 0xffffffffu
#define VIGIL_MAX_IPV6_EXTENSIONS 4
#define VIGIL_MEMO_REFRESH 64 /* every 64th packet of a remembered flow looks it up again */

#define vigil_barrier() asm volatile("" ::: "memory")
#define VIGIL_READ_ONCE(x) (*(volatile typeof(x) *)&(x))
#define VIGIL_WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))

struct vigil_ipv4_header {
	__u8 version_ihl;
	__u8 tos;
	__u16 total_length;
	__u16 id;
	__u16 fragment;
	__u8 ttl;
	__u8 protocol;
	__u16 checksum;
	__u8 saddr[4];
	__u8 daddr[4];
};

struct vigil_ipv6_header {
	__u32 version_class_flow;
	__u16 payload_length;
	__u8 next_header;
	__u8 hop_limit;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct vigil_verdict {
	__u32 action;
	__u32 counter;
};

static __always_inline void vigil_map_ipv4(__u8 *out, const __u8 *ipv4)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, ipv4, 4);
}

/* Copies `len` (a constant) bytes at `offset` of the packet: straight from its linear
 * data when they are there, with no helper call, else with bpf_skb_load_bytes. */
static __always_inline int vigil_load(struct __sk_buff *skb, __u32 offset, void *to, const __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	if (offset < 512) { /* bounds the packet pointer's offset for the verifier */
		void *from = data + offset;
		if (from + len <= data_end) {
			__builtin_memcpy(to, from, len);
			return 0;
		}
	}
	return bpf_skb_load_bytes(skb, offset, to, len);
}

/* Ports (or the ICMP echo id) of the transport header at `offset`. */
static __always_inline void vigil_parse_ports(struct __sk_buff *skb, __u32 offset, struct vigil_packet *pkt)
{
	__u8 bytes[8] = {};
	pkt->sport = 0;
	pkt->dport = 0;
	switch (pkt->protocol) {
	case VIGIL_PROTO_TCP:
	case VIGIL_PROTO_UDP:
	case VIGIL_PROTO_SCTP:
		if (vigil_load(skb, offset, bytes, 4) == 0) {
			pkt->sport = (__u16)bytes[0] << 8 | bytes[1];
			pkt->dport = (__u16)bytes[2] << 8 | bytes[3];
		}
		break;
	case VIGIL_PROTO_ICMP:
	case VIGIL_PROTO_ICMPV6:
		/* Echo request and reply share the id, so replies find their request. */
		if (vigil_load(skb, offset, bytes, 8) == 0) {
			__u8 type = bytes[0];
			if (type == 8 || type == 0 || type == 128 || type == 129) {
				pkt->sport = (__u16)bytes[4] << 8 | bytes[5];
				pkt->dport = pkt->sport;
			}
		}
		break;
	}
}

/* Parses the IP header at `offset`; returns -1 for anything but IPv4/IPv6. */
static __always_inline int vigil_parse(struct __sk_buff *skb, __u32 offset, struct vigil_packet *pkt)
{
	if (skb->protocol == bpf_htons(VIGIL_ETH_P_IP)) {
		struct vigil_ipv4_header ip = {};
		if (vigil_load(skb, offset, &ip, sizeof(ip)) != 0)
			return -1;
		vigil_map_ipv4(pkt->src, ip.saddr);
		vigil_map_ipv4(pkt->dst, ip.daddr);
		pkt->protocol = ip.protocol;
		if (bpf_ntohs(ip.fragment) & 0x1fff) { /* a later fragment: no ports */
			pkt->sport = 0;
			pkt->dport = 0;
			return 0;
		}
		vigil_parse_ports(skb, offset + (ip.version_ihl & 0xf) * 4, pkt);
		return 0;
	}
	if (skb->protocol == bpf_htons(VIGIL_ETH_P_IPV6)) {
		struct vigil_ipv6_header ip = {};
		if (vigil_load(skb, offset, &ip, sizeof(ip)) != 0)
			return -1;
		__builtin_memcpy(pkt->src, ip.saddr, 16);
		__builtin_memcpy(pkt->dst, ip.daddr, 16);
		__u8 next = ip.next_header;
		__u32 at = offset + sizeof(ip);
		for (int i = 0; i < VIGIL_MAX_IPV6_EXTENSIONS; i++) {
			__u8 ext[8] = {};
			if (next != 0 && next != 43 && next != 60 && next != 44)
				break;
			if (vigil_load(skb, at, ext, sizeof(ext)) != 0)
				return -1;
			if (next == 44) { /* fragment header: later fragments have no ports */
				__u16 fragment_offset = ((__u16)ext[2] << 8 | ext[3]) >> 3;
				next = ext[0];
				at += 8;
				if (fragment_offset) {
					pkt->protocol = next;
					pkt->sport = 0;
					pkt->dport = 0;
					return 0;
				}
				continue;
			}
			next = ext[0];
			at += ((__u32)ext[1] + 1) * 8;
		}
		pkt->protocol = next;
		vigil_parse_ports(skb, at, pkt);
		return 0;
	}
	return -1;
}

/* The value index of `remote` on the address line of `epol`, or VIGIL_POLICY_NO_VALUE:
 * a binary search for the last boundary at or below the address. */
static __always_inline __u32 vigil_line_value(void *line, const struct vigil_endpoint_policy *epol,
					       const __u8 *remote)
{
	__u64 hi;
	__u64 lo;
	__builtin_memcpy(&hi, remote, 8);
	__builtin_memcpy(&lo, remote + 8, 8);
	hi = bpf_be64_to_cpu(hi);
	lo = bpf_be64_to_cpu(lo);
	__u32 first = epol->first_boundary;
	__u32 low = first;                          /* boundaries before `low` are at or below */
	__u32 high = first + epol->boundary_count; /* boundaries from `high` on are above */
	for (int step = 0; step < VIGIL_POLICY_SEARCH_STEPS && low < high; step++) {
		__u32 middle = low + (high - low) / 2;
		struct vigil_policy_boundary *boundary = bpf_map_lookup_elem(line, &middle);
		if (!boundary)
			return VIGIL_POLICY_NO_VALUE;
		if (boundary->addr_hi < hi || (boundary->addr_hi == hi && boundary->addr_lo <= lo))
			low = middle + 1;
		else
			high = middle;
	}
	if (low == first)
		return VIGIL_POLICY_NO_VALUE; /* below the first boundary */
	__u32 index = low - 1;
	struct vigil_policy_boundary *boundary = bpf_map_lookup_elem(line, &index);
	return boundary ? boundary->value : VIGIL_POLICY_NO_VALUE;
}

/* The generation's verdict for `remote` and `dport` at endpoint direction `epol`. */
static __always_inline void vigil_evaluate(void *line, void *values, const struct vigil_endpoint_policy *epol,
					   const __u8 *remote, __u8 protocol, __u16 dport, struct vigil_verdict *out)
{
	if (epol->default_action == VIGIL_ACTION_NONE) { /* unmanaged direction */
		out->action = VIGIL_ACTION_ALLOW;
		out->counter = VIGIL_NO_COUNTER;
		return;
	}
	__u32 index = vigil_line_value(line, epol, remote);
	struct vigil_policy_value *value =
		index == VIGIL_POLICY_NO_VALUE ? NULL : bpf_map_lookup_elem(values, &index);
	if (value) {
		__u32 allow_counter = VIGIL_NO_COUNTER;
		for (int i = 0; i < VIGIL_POLICY_MAX_RANGES; i++) {
			if (i >= value->count)
				break;
			struct vigil_port_range *range = &value->ranges[i];
			if (range->protocol && range->protocol != protocol)
				continue;
			if (dport < range->port_lo || dport > range->port_hi)
				continue;
			__u32 counter = (__u32)(range->action_hi >> 2) << 16 | range->counter_lo;
			if ((range->action_hi & 3) == VIGIL_ACTION_DENY) {
				out->action = VIGIL_ACTION_DENY;
				out->counter = counter;
				return;
			}
			if (allow_counter == VIGIL_NO_COUNTER)
				allow_counter = counter;
		}
		if (allow_counter != VIGIL_NO_COUNTER) {
			out->action = VIGIL_ACTION_ALLOW;
			out->counter = allow_counter;
			return;
		}
	}
	out->action = epol->default_action;
	out->counter = epol->default_counter;
}

static __always_inline void vigil_count_packet(__u32 slot, __u32 counter, __u32 bytes)
{
	if (counter == VIGIL_NO_COUNTER || counter >= vigil_counter_capacity)
		return;
	__u32 index = slot * vigil_counter_capacity + counter;
	struct vigil_policy_counter *value = bpf_map_lookup_elem(&vigil_pol_count, &index);
	if (value) {
		value->packets += 1;
		value->bytes += bytes;
	}
}

/* The endpoint a cgroup_skb packet belongs to: its socket's cgroup or an ancestor. */
static __always_inline __u32 *vigil_cgroup_endpoint(struct __sk_buff *skb)
{
	__u64 id = bpf_skb_cgroup_id(skb);
	__u32 *endpoint = bpf_map_lookup_elem(&vigil_pol_cgroups, &id);
	if (endpoint)
		return endpoint;
	for (int level = 1; level < 16; level++) {
		__u64 ancestor = bpf_skb_ancestor_cgroup_id(skb, level);
		if (ancestor == 0 || ancestor == id)
			break;
		endpoint = bpf_map_lookup_elem(&vigil_pol_cgroups, &ancestor);
		if (endpoint)
			return endpoint;
	}
	return NULL;
}

/* Whether `pkt` at `place` is the flow `memo` remembers as allowed by `generation`; if so,
 * its counter goes to `counter`. Every VIGIL_MEMO_REFRESH-th packet misses on purpose:
 * its connection-tracking lookup keeps the flow recently used in the LRU table. */
static __always_inline bool vigil_memo_hit(struct vigil_flow_memo *memo, const struct vigil_packet *pkt,
					   const struct vigil_interface_key *place, __u64 generation,
					   __u32 *counter)
{
	__u32 seq = VIGIL_READ_ONCE(memo->seq);
	if (seq == 0 || (seq & 1)) /* empty, dropped, or being written */
		return false;
	vigil_barrier();
	const __u64 *remembered = (const __u64 *)&memo->flow;
	const __u64 *flow = (const __u64 *)pkt;
	__u64 differs = (memo->generation ^ generation) | (memo->place.netns_cookie ^ place->netns_cookie) |
			(memo->place.ifindex ^ place->ifindex);
	for (int i = 0; i < sizeof(*pkt) / 8; i++)
		differs |= remembered[i] ^ flow[i];
	__u32 remembered_counter = memo->counter;
	vigil_barrier();
	if (differs || VIGIL_READ_ONCE(memo->seq) != seq)
		return false;
	memo->hits += 1;
	if (memo->hits % VIGIL_MEMO_REFRESH == 0)
		return false;
	*counter = remembered_counter;
	return true;
}

/* Forgets what `memo` remembers, before the long path decides again. */
static __always_inline void vigil_memo_drop(struct vigil_flow_memo *memo)
{
	if (memo)
		VIGIL_WRITE_ONCE(memo->seq, memo->seq | 1);
}

/* Remembers `pkt` at `place` as a flow `generation` allows, counted on `counter`. */
static __always_inline void vigil_memo_keep(struct vigil_flow_memo *memo, const struct vigil_packet *pkt,
					    const struct vigil_interface_key *place, __u64 generation, __u32 counter)
{
	if (!memo)
		return;
	__u32 seq = memo->seq;
	VIGIL_WRITE_ONCE(memo->seq, seq | 1);
	vigil_barrier();
	memo->flow = *pkt;
	memo->place = *place;
	memo->generation = generation;
	memo->counter = counter;
	memo->hits = 0;
	vigil_barrier();
	VIGIL_WRITE_ONCE(memo->seq, (seq | 1) + 1);
}

/* The connection-tracking key of `pkt` as seen from its source (forward) or its
 * destination (reverse). */
static __always_inline void vigil_ct_key_of(const struct vigil_packet *pkt, __u32 endpoint, bool reverse,
					    struct vigil_ct_key *key)
{
	__builtin_memcpy(key->src, reverse ? pkt->dst : pkt->src, 16);
	__builtin_memcpy(key->dst, reverse ? pkt->src : pkt->dst, 16);
	key->sport = reverse ? pkt->dport : pkt->sport;
	key->dport = reverse ? pkt->sport : pkt->dport;
	key->protocol = pkt->protocol;
	__builtin_memset(key->_pad, 0, sizeof(key->_pad));
	key->endpoint = endpoint;
}

/* Classifies one packet seen at `place` in `direction`; returns 1 to pass, 0 to drop.
 * The endpoint is `place`'s interface endpoint, or for cgroup_skb (`cgroup`) that of the
 * packet's cgroup or an ancestor. A packet of a flow the active generation already allowed
 * takes a short path: the state, then the flow remembered on this CPU, or else one or two
 * connection-tracking lookups; then its counter. */
static __always_inline int vigil_classify(struct __sk_buff *skb, const struct vigil_interface_key *place,
					  const bool cgroup, __u32 direction, __u32 l3_offset)
{
	__u32 zero = 0;
	struct vigil_policy_state *state = bpf_map_lookup_elem(&vigil_pol_state, &zero);
	if (!state || state->slot >= VIGIL_POLICY_SLOTS)
		return 1;
	__u32 slot = state->slot;
	__u64 generation = state->generation;

	struct vigil_packet pkt = {};
	if (vigil_parse(skb, l3_offset, &pkt) != 0)
		return 1; /* ARP and other non-IP traffic */

	struct vigil_flow_memo *memo = bpf_map_lookup_elem(&vigil_pol_memo, &direction);
	__u32 remembered_counter;
	if (memo && vigil_memo_hit(memo, &pkt, place, generation, &remembered_counter)) {
		vigil_count_packet(slot, remembered_counter, skb->len);
		return 1;
	}
	vigil_memo_drop(memo);
	__u32 *endpoint_of = cgroup ? vigil_cgroup_endpoint(skb) : bpf_map_lookup_elem(&vigil_pol_ifaces, place);
	if (!endpoint_of)
		return 1; /* not an endpoint */
	__u32 endpoint = *endpoint_of;

	/* vigil_ct_key_of writes every byte of a key (no implicit padding). */
	struct vigil_ct_key forward;
	struct vigil_ct_key reverse;
	vigil_ct_key_of(&pkt, endpoint, false, &forward);
	struct vigil_ct_key *opener = &forward;
	struct vigil_ct_value *flow = bpf_map_lookup_elem(&vigil_pol_ct, &forward);
	if (!flow) {
		vigil_ct_key_of(&pkt, endpoint, true, &reverse);
		flow = bpf_map_lookup_elem(&vigil_pol_ct, &reverse);
		opener = &reverse;
	}
	if (flow && flow->generation == generation) {
		vigil_memo_keep(memo, &pkt, place, generation, flow->counter);
		vigil_count_packet(slot, flow->counter, skb->len);
		return 1;
	}

	void *line = bpf_map_lookup_elem(&vigil_pol_line, &slot);
	void *values = bpf_map_lookup_elem(&vigil_pol_vals, &slot);
	void *endpoints = bpf_map_lookup_elem(&vigil_pol_eps, &slot);
	if (!line || !values || !endpoints)
		return 1;
	__u32 ingress_index = endpoint << 1 | VIGIL_DIR_INGRESS;
	__u32 egress_index = endpoint << 1 | VIGIL_DIR_EGRESS;
	struct vigil_endpoint_policy *ingress = bpf_map_lookup_elem(endpoints, &ingress_index);
	struct vigil_endpoint_policy *egress = bpf_map_lookup_elem(endpoints, &egress_index);
	if (!ingress || !egress)
		return 1;
	if (ingress->default_action == VIGIL_ACTION_NONE && egress->default_action == VIGIL_ACTION_NONE)
		return 1; /* not managed by this generation */

	struct vigil_verdict verdict = {};
	if (flow) {
		/* The policy changed since the flow was allowed: does the new one still allow it? */
		__u32 opened = flow->direction == VIGIL_DIR_INGRESS ? VIGIL_DIR_INGRESS : VIGIL_DIR_EGRESS;
		struct vigil_endpoint_policy *policy = opened == VIGIL_DIR_INGRESS ? ingress : egress;
		const __u8 *remote = opened == VIGIL_DIR_INGRESS ? opener->src : opener->dst;
		vigil_evaluate(line, values, policy, remote, opener->protocol, opener->dport, &verdict);
		if (verdict.action == VIGIL_ACTION_DENY) {
			vigil_count_packet(slot, verdict.counter, skb->len);
			if (policy->audit)
				return 1;
			bpf_map_delete_elem(&vigil_pol_ct, opener);
			return 0;
		}
		flow->generation = generation;
		flow->counter = verdict.counter;
		vigil_memo_keep(memo, &pkt, place, generation, verdict.counter);
		vigil_count_packet(slot, verdict.counter, skb->len);
		return 1;
	}

	struct vigil_endpoint_policy *policy = direction == VIGIL_DIR_INGRESS ? ingress : egress;
	const __u8 *remote = direction == VIGIL_DIR_INGRESS ? pkt.src : pkt.dst;
	vigil_evaluate(line, values, policy, remote, pkt.protocol, pkt.dport, &verdict);
	vigil_count_packet(slot, verdict.counter, skb->len);
	if (verdict.action == VIGIL_ACTION_DENY && !policy->audit)
		return 0;
	if (verdict.action == VIGIL_ACTION_ALLOW) {
		struct vigil_ct_value opened = {
			.generation = generation,
			.direction = direction,
			.counter = verdict.counter,
		};
		if (bpf_map_update_elem(&vigil_pol_ct, &forward, &opened, BPF_ANY) == 0)
			vigil_memo_keep(memo, &pkt, place, generation, verdict.counter);
	}
	return 1;
}

#endif /* VIGIL_POLICY_H */
