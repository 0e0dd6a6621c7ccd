#!/usr/bin/env bash
# The chaos tests (tests/hale-chaos) with one command, printing what each
# one measured (the counts and times recorded in docs/reliability.md):
#
#   scripts/chaos.sh             all of them
#   scripts/chaos.sh redis       only those whose name contains "redis"
#   scripts/chaos.sh --measure   the measurements instead (ignored tests:
#                                the switch propagation between replicas)
#
# Starts Postgres and Redis with scripts/services.sh in a private state
# directory (HALE_SERVICES_DIR, default /tmp/hale-chaos-services), runs the
# tests one at a time with their output shown, and stops the services.
# Each test prints one line starting with its fault's name; the exit status
# is the tests' verdict. CI runs the same tests inside scripts/test.sh.
set -euo pipefail

IGNORED=()
if [[ "${1:-}" == "--measure" ]]; then
    IGNORED=(--ignored)
    shift
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export HALE_SERVICES_DIR="${HALE_SERVICES_DIR:-/tmp/hale-chaos-services}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

trap '"$ROOT/scripts/services.sh" stop || true' EXIT
"$ROOT/scripts/services.sh" start
# shellcheck source=/dev/null
source "$HALE_SERVICES_DIR/env"
export HALE_REQUIRE_SERVICES=1

printf 'machine: %s CPUs, %s, load average %s\n' "$(nproc)" \
    "$(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
if cargo nextest --version >/dev/null 2>&1; then
    if ((${#IGNORED[@]})); then
        cargo nextest run -p hale-chaos --no-capture --run-ignored only ${1:+"$1"}
    else
        cargo nextest run -p hale-chaos --no-capture ${1:+"$1"}
    fi
else
    cargo test -p hale-chaos -- --nocapture --test-threads 1 ${IGNORED[@]+"${IGNORED[@]}"} ${1:+"$1"}
fi
