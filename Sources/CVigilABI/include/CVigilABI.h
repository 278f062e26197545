/* Swift's view of the ABI shared with the BPF programs: the same header the
 * BPF C includes, so the layouts cannot drift. */
#include "../../../bpf/include/vigil_abi.h"
