/* perf_event_open(2) of a uprobe: Swift has neither the syscall wrapper nor a way to set
 * perf_event_attr.config1 to a C string pointer safely. */
#include <errno.h>
#include <linux/perf_event.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "CLibBPF.h"

int vigil_uprobe_open(int pmu_type, const char *binary_path, unsigned long long file_offset,
		      int pid)
{
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = pmu_type;
	attr.config1 = (unsigned long long)(unsigned long)binary_path;
	attr.config2 = file_offset;
	long fd = syscall(__NR_perf_event_open, &attr, pid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	return fd < 0 ? -errno : (int)fd;
}
