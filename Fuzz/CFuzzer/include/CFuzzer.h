#ifndef HONEYTRACE_CFUZZER_H
#define HONEYTRACE_CFUZZER_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's driver (in the runtime that -sanitize=fuzzer links): parses libFuzzer's options from
/// argv and runs `test` on each input, as libFuzzer's own main would.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*test)(const uint8_t *data, size_t size));

#endif
