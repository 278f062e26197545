/* statfs(2) is not in Swift's Glibc module. */
#include <errno.h>
#include <sys/vfs.h>
#include "CLibBPF.h"

long vigil_filesystem_magic(const char *path)
{
	struct statfs stats;
	if (statfs(path, &stats) != 0)
		return -errno;
	return (long)stats.f_type;
}
