#!/usr/bin/env bash
# Intake load, side by side with a real Alertmanager, with one command:
#
#   scripts/load.sh                      8 connections, 20 s per target,
#                                        batches of 10 and then of 1 alert
#   scripts/load.sh --connections 16     extra flags go to `hale-load intake`
#                                        (see `hale-load intake --help`)
#
# Starts Postgres and Redis (scripts/services.sh, private state directory),
# the fake Kubernetes API server seeded with 1,000 deployments, hale-server
# (release build) with a generated production config (Postgres + Redis +
# the Kubernetes executor), and Alertmanager with a black-hole receiver.
# Then, for each batch size in HALE_LOAD_BATCHES (default "10 1"), posts
# the same deterministic alert sequence as webhook bodies to Hale and as
# /api/v2/alerts arrays to Alertmanager, one target after the other, and
# prints a Markdown table of alerts/s and latency. Tears everything down.
#
# HALE_LOAD_SOAK=SECONDS first drives Hale alone for that long, unmeasured,
# so the measured runs see a database in steady state (Postgres's
# autovacuum has made its first pass over the churning incident and
# fingerprint tables, which takes a few minutes on a new cluster); the
# default (0) measures a cold start.
#
# Beneath each table: the CPU time hale-server, Postgres (the postmaster
# and all its children: the server's pooled backends stay connected) and
# Redis used during Hale's measured run, per alert Hale took, and the same
# processes during Alertmanager's run (hale-server alone in the SQLite
# shape; see scripts/bench-common.sh for what a process that exits mid-run
# does to the sum).
#
# The other shapes of issue 19's table, with the same command:
#
#   HALE_BENCH_PG_DURABLE=1 scripts/load.sh    Postgres at its durable
#                                              defaults (fsync and
#                                              full_page_writes on)
#   HALE_BENCH_STORE=sqlite scripts/load.sh    the embedded default store
#                                              (SQLite, in-process locks;
#                                              no Postgres, no Redis)
#
# HALE_BENCH_NO_BUILD=1 skips the release build (uses target/release, or
# $CARGO_TARGET_DIR/release, as it is); more inputs are listed in
# scripts/bench-common.sh.
#
# The figures go to docs/benchmarks.md ("Intake load"); the header names the
# commit, and the load average is printed before and after each target,
# because other builds on the machine move the numbers.
set -euo pipefail

# shellcheck source=scripts/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"

bench_start
am_start
if ((${HALE_LOAD_SOAK:-0} > 0)); then
    blog "soaking: ${HALE_LOAD_SOAK} s of unmeasured load on hale"
    "$HALE_LOAD" intake --hale "$HALE_URL" --duration "$HALE_LOAD_SOAK" --warmup 0 --seed 1 >/dev/null
fi
for batch in ${HALE_LOAD_BATCHES:-10 1}; do
    printf '\n'
    "$HALE_LOAD" intake --hale "$HALE_URL" --alertmanager "$AM_URL" --batch "$batch" \
        --label "$HALE_LABEL" "${BENCH_CPU[@]}" "$@"
done
mem="$(grep -E '^(VmHWM|VmRSS)' "/proc/$HALE_PID/status" | tr -s ' \t' ' ' | paste -sd ' ')"
printf '\nhale-server memory after the runs: %s\n' "$mem"
printf 'load average at the end: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
bench_pg_statements
