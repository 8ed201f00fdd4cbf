#!/usr/bin/env bash
# The test command: installs what is missing (onnxruntime for the ONNX parity tests too), builds, fuzzes the file parsers briefly (docs/fuzzing.md;
# HONEYTRACE_FUZZ_SECONDS per target, 0 to skip), and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# onnxruntime (PyPI) for the ONNX parity tests, into data/python when python3 lacks it; the tests set
# PYTHONPATH to it for their onnxruntime child processes only.
if ! python3 -c "import onnxruntime, numpy" 2>/dev/null \
    && ! PYTHONPATH="$PWD/data/python" python3 -c "import onnxruntime, numpy" 2>/dev/null; then
    echo "test: installing onnxruntime from PyPI into data/python"
    python3 -m pip install --quiet --root-user-action=ignore --target data/python onnxruntime numpy
fi
swift build --build-tests
fuzz_seconds="${HONEYTRACE_FUZZ_SECONDS:-15}"
if [ "$fuzz_seconds" != 0 ]; then
    scripts/fuzz.sh --seconds "$fuzz_seconds" npy idx safetensors
fi
swift test --skip-build
