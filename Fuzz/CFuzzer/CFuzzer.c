// The declarations in include/CFuzzer.h are defined by libFuzzer's runtime; a C target needs one source.
#include "CFuzzer.h"
