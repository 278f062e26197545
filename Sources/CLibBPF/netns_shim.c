/* Network namespace calls Swift's Glibc module does not expose. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <sys/socket.h>
#include "CLibBPF.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

int vigil_setns(int fd, int nstype)
{
	return setns(fd, nstype) == 0 ? 0 : -errno;
}

int vigil_netns_cookie(int socket_fd, unsigned long long *cookie)
{
	socklen_t length = sizeof(*cookie);
	return getsockopt(socket_fd, SOL_SOCKET, SO_NETNS_COOKIE, cookie, &length) == 0 ? 0 : -errno;
}
