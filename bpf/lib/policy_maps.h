/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Maps of the policy classifier. Names stay within 15 characters (pin names). */
#ifndef VIGIL_POLICY_MAPS_H
#define VIGIL_POLICY_MAPS_H

/* Counter slots per generation; set by the loader before load. */
const volatile __u32 vigil_counter_capacity = 1;

/* The active generation. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_policy_state);
} vigil_pol_state SEC(".maps");

/* Templates of a generation's inner maps. User space sizes the address line
 * and the values to each generation and fills them through a memory mapping. */
struct vigil_line_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct vigil_policy_boundary));
};

struct vigil_values_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct vigil_policy_value));
};

/* Indexed by endpoint << 1 | direction. */
struct vigil_eps_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VIGIL_POLICY_MAX_ENDPOINTS * 2);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct vigil_endpoint_policy));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VIGIL_POLICY_SLOTS);
	__type(key, __u32);
	__array(values, struct vigil_line_inner);
} vigil_pol_line SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VIGIL_POLICY_SLOTS);
	__type(key, __u32);
	__array(values, struct vigil_values_inner);
} vigil_pol_vals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, VIGIL_POLICY_SLOTS);
	__type(key, __u32);
	__array(values, struct vigil_eps_inner);
} vigil_pol_eps SEC(".maps");

/* Which endpoint an interface (of a network namespace) or a cgroup is. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_POLICY_MAX_ENDPOINTS);
	__type(key, struct vigil_interface_key);
	__type(value, __u32);
} vigil_pol_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, VIGIL_POLICY_MAX_ENDPOINTS);
	__type(key, __u64);
	__type(value, __u32);
} vigil_pol_cgroups SEC(".maps");

/* Per CPU: counters of every slot, slot * vigil_counter_capacity + counter. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_policy_counter);
} vigil_pol_count SEC(".maps");

/* What the classifier needs of a packet: its flow. Addresses are 16 bytes, IPv4
 * mapped. No implicit padding, so two flows compare as 8-byte words. */
struct vigil_packet {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 protocol;
	__u8 _pad[3];
} __attribute__((aligned(8)));

/* Connection tracking: flows a generation allowed, by the opening packet's tuple.
 * A vigil_packet's fields and the endpoint, spelled out rather than nesting
 * vigil_packet, whose 8-byte alignment would pad the key: this 44-byte layout is
 * pinned, and adopted by newer builds. */
struct vigil_ct_key {
	__u8 src[16];
	__u8 dst[16];
	__u16 sport;
	__u16 dport;
	__u8 protocol;
	__u8 _pad[3];
	__u32 endpoint;
};

struct vigil_ct_value {
	__u64 generation; /* the generation that last allowed the flow */
	__u32 direction;  /* direction of the opening packet */
	__u32 counter;    /* the rule that allowed it */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct vigil_ct_key);
	__type(value, struct vigil_ct_value);
} vigil_pol_ct SEC(".maps");

/* The last flow that took the short path on one CPU in one direction. `seq` is odd
 * while the memo is being written and changes with every write, so a program that
 * interrupts a write on the same CPU, or is interrupted by one, sees that and misses. */
struct vigil_flow_memo {
	struct vigil_packet flow;
	struct vigil_interface_key place; /* the device, or {cgroup id, 0} */
	__u64 generation;                 /* the generation that allowed the flow */
	__u32 counter;                    /* the counter its packets count on */
	__u32 hits;                       /* packets since its connection-tracking lookup */
	__u32 seq;                        /* 0: empty */
	__u32 _pad;
};

/* Per CPU, by direction: the last flow that took the short path (see vigil_memo_hit).
 * Scratch state, not pinned: a newly loaded program starts with it empty. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct vigil_flow_memo);
} vigil_pol_memo SEC(".maps");

#endif /* VIGIL_POLICY_MAPS_H */
