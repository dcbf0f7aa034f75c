#!/bin/sh
# test.sh - installs what is missing, builds flowsift twice (warnings as errors; ASan+UBSan) and runs the
# whole test suite on both builds, then the multi-threaded tests under ThreadSanitizer. The oracle tests read
# ../shared/data and skip, saying so, without it.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh build -DFLOWSIFT_WERROR=ON
scripts/build.sh build-asan -DFLOWSIFT_WERROR=ON -DFLOWSIFT_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
scripts/build.sh build-tsan -DFLOWSIFT_WERROR=ON -DFLOWSIFT_SANITIZE=thread
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
status=0
echo "== tests, release build"
(cd build && ctest --output-on-failure -j"$(nproc)") || status=1
echo "== tests, ASan + UBSan build"
(cd build-asan && ctest --output-on-failure -j"$(nproc)") || status=1
echo "== multi-threaded tests, TSan build"
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R 'unit_|e2e_test_split|e2e_test_cli|e2e_test_store|e2e_test_collect') || status=1
exit $status
