#!/usr/bin/env bash
# Builds the CPU code and its tests with sanitizers and runs every test under them. Not part of
# CI (a second full build would double its time); run it before changing threads, buffers or
# lifetimes.
#   ./deploy/sanitize.sh                      # AddressSanitizer (leaks included) + UBSan
#   SANITIZE=thread ./deploy/sanitize.sh      # ThreadSanitizer
#   CTEST_ARGS="-L unit" ./deploy/sanitize.sh # a subset of labels
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
sanitize="${SANITIZE:-address,undefined}"
build_dir="${BUILD_DIR:-build-${sanitize//,/-}}"
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMANIFOLD_CUDA=OFF \
  -DMANIFOLD_BUILD_BENCHMARKS=OFF -DMANIFOLD_SANITIZE="$sanitize"
cmake --build "$build_dir" -j "$(nproc)"
# Any report fails the test that printed it; leaks are reported at exit.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" -LE gpu ${CTEST_ARGS:-}
