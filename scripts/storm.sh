#!/usr/bin/env bash
# The alert storm, with one command:
#
#   scripts/storm.sh                     100,000 alerts over 1,000 resources
#   scripts/storm.sh --alerts 20000      extra flags go to `hale-load storm`
#
# Starts the production shape like scripts/load.sh (Postgres, Redis, the
# fake Kubernetes API server with 1,000 deployments, hale-server release
# build), posts the storm (duplicates and flapping, every alert matching the
# restart strategy), waits for the healing operations to finish, and
# checks: at most one operation per resource (<= 1,000), no deployment
# restarted twice (fake API server counters), and the server's peak RSS
# (VmHWM) under 100 MB. Exits non-zero if a limit is broken. Also prints
# the CPU time hale-server, Postgres (postmaster and children) and Redis
# used while the storm was posted, per alert taken, and the hot tables'
# update statistics.
#
#   HALE_BENCH_PG_DURABLE=1 scripts/storm.sh   Postgres with fsync on
#   HALE_BENCH_STORE=sqlite scripts/storm.sh   the embedded SQLite store
#
# (see scripts/bench-common.sh for these and the other inputs).
set -euo pipefail

# shellcheck source=scripts/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"

bench_start
"$HALE_LOAD" storm --hale "$HALE_URL" --kube-url "$KUBE_URL" --pid "$HALE_PID" "${BENCH_CPU[@]}" "$@"
bench_pg_stats
bench_pg_statements
