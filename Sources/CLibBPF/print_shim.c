/* libbpf hands its print callback a va_list; Swift has no va_copy, so long
 * messages (verifier logs) would be cut. This shim formats each message whole. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "CLibBPF.h"

static vigil_libbpf_sink current_sink;

static int vigil_print(enum libbpf_print_level level, const char *format, va_list args)
{
	vigil_libbpf_sink sink = __atomic_load_n(&current_sink, __ATOMIC_ACQUIRE);
	if (!sink)
		return 0;

	char small[1024];
	va_list copy;
	va_copy(copy, args);
	int length = vsnprintf(small, sizeof(small), format, copy);
	va_end(copy);
	if (length < 0)
		return length;
	if ((size_t)length < sizeof(small)) {
		sink(level, small);
		return length;
	}

	char *large = malloc((size_t)length + 1);
	if (!large) {
		sink(level, small);
		return length;
	}
	vsnprintf(large, (size_t)length + 1, format, args);
	sink(level, large);
	free(large);
	return length;
}

void vigil_libbpf_set_sink(vigil_libbpf_sink sink)
{
	__atomic_store_n(&current_sink, sink, __ATOMIC_RELEASE);
	libbpf_set_print(sink ? vigil_print : NULL);
}
