#!/usr/bin/env bash
# The fairness benchmark of docs/benchmarks.md ("One tenant floods"):
#
#   scripts/fairness.sh                     128 flooding connections
#   scripts/fairness.sh --duration 60       extra flags go to `hale-load fairness`
#
# The production shape of scripts/load.sh with a second tenant, `quiet`.
# Phase 1: `quiet` posts alone (2 connections, closed loop) and its request
# latency is recorded. Phase 2: tenant `load` floods at full speed (128
# connections, twice its in-flight limit of 64, so admission control refuses
# part of it with 503) while `quiet` posts as before. The report compares
# quiet's p99 in the two phases (goal: within 2x) and fails if quiet was
# refused even once.
set -euo pipefail

# shellcheck source=scripts/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"

export HALE_BENCH_SECOND_TENANT=quiet
bench_start
"$HALE_LOAD" fairness --hale "$HALE_URL" --quiet-tenant quiet "$@"
