#!/usr/bin/env bash
# The test command: installs what is missing, builds, fuzzes the file parsers briefly (docs/fuzzing.md;
# HONEYTRACE_FUZZ_SECONDS per target, 0 to skip), and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --build-tests
fuzz_seconds="${HONEYTRACE_FUZZ_SECONDS:-30}"
if [ "$fuzz_seconds" != 0 ]; then
    scripts/fuzz.sh --seconds "$fuzz_seconds" npy idx safetensors
fi
swift test --skip-build
