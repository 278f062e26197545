/* libbpf as Swift sees it, plus the few shims Swift cannot express itself.
 * Only the BPFCore module imports this. */
#ifndef VIGIL_CLIBBPF_H
#define VIGIL_CLIBBPF_H

#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <sys/epoll.h>

/* Receives each libbpf message whole (formatted with its own va_copy). */
typedef void (*vigil_libbpf_sink)(int level, const char *message);

/* Routes libbpf's print callback to `sink`; NULL silences libbpf. */
void vigil_libbpf_set_sink(vigil_libbpf_sink sink);

/* The filesystem type (statfs f_type) of `path`, or -errno. */
long vigil_filesystem_magic(const char *path);

/* setns(2) for the calling thread (Swift's Glibc module lacks it). 0 or -errno. */
int vigil_setns(int fd, int nstype);

/* The network namespace cookie of the namespace `socket_fd` lives in
 * (SO_NETNS_COOKIE), the value bpf_get_netns_cookie() returns there. 0 or -errno. */
int vigil_netns_cookie(int socket_fd, unsigned long long *cookie);

/* A uprobe perf event at `file_offset` of `binary_path`, in process `pid` only, enabled.
 * `pmu_type` is /sys/bus/event_source/devices/uprobe/type. A descriptor or -errno. */
int vigil_uprobe_open(int pmu_type, const char *binary_path, unsigned long long file_offset,
		      int pid);

/* Ring buffer positions, shared with the kernel: read with acquire, written with release
 * ordering (Swift has no atomics on foreign memory). */
static inline unsigned long vigil_load_acquire_ulong(const unsigned long *position)
{
	return __atomic_load_n(position, __ATOMIC_ACQUIRE);
}

static inline unsigned int vigil_load_acquire_uint(const unsigned int *header)
{
	return __atomic_load_n(header, __ATOMIC_ACQUIRE);
}

static inline void vigil_store_release_ulong(unsigned long *position, unsigned long value)
{
	__atomic_store_n(position, value, __ATOMIC_RELEASE);
}

/* Asks for the cache line at `address` ahead of its use. */
static inline void vigil_prefetch(const void *address)
{
	__builtin_prefetch(address);
}

#endif
