#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and prints, per target, the
# executions and crashes found (the figures recorded in docs/reliability.md).
#
#   scripts/fuzz.sh                     60 s per target
#   scripts/fuzz.sh 300                 300 s per target
#   scripts/fuzz.sh 3600 http_router    one target (or several, space separated)
#
# Needs the nightly toolchain (installed on these machines) and cargo-fuzz
# (installed from crates.io if missing). Crashing inputs are kept under
# fuzz/artifacts/<target>/; the seed corpus is under fuzz/seeds/<target>/.
set -euo pipefail

SECS="${1:-60}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT/fuzz"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install --locked cargo-fuzz
fi

if [[ $# -gt 1 ]]; then
    TARGETS=("${@:2}")
else
    mapfile -t TARGETS < <(cargo +nightly fuzz list)
fi
printf '%-24s %12s %8s %s\n' target executions crashes seconds
status=0
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    # Start from the checked-in seeds; the working corpus is not committed.
    if [[ -d "seeds/$t" ]]; then cp -n "seeds/$t"/* "corpus/$t/" 2>/dev/null || true; fi
    log="$(mktemp)"
    before=$(find "artifacts/$t" -type f | wc -l)
    set +e
    cargo +nightly fuzz run "$t" "corpus/$t" -- \
        -max_total_time="$SECS" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    set -e
    after=$(find "artifacts/$t" -type f | wc -l)
    execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1)
    crashes=$((after - before))
    printf '%-24s %12s %8s %s\n' "$t" "${execs:-?}" "$crashes" "$SECS"
    if ((rc != 0 || crashes > 0)); then
        status=1
        grep -E 'panicked|ERROR|SUMMARY' "$log" | head -n 5 || true
    fi
    rm -f "$log"
done
exit "$status"
