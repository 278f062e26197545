/* The ABI module is header-only; SwiftPM needs one source file per C target. */
#include "CVigilABI.h"
