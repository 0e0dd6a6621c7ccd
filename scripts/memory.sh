#!/usr/bin/env bash
# The memory benchmark of docs/benchmarks.md ("Memory under a long storm"):
#
#   scripts/memory.sh                  1,000,000 alerts over 100,000 fingerprints
#   scripts/memory.sh --alerts 200000  extra flags go to `hale-load storm`
#
# The production shape of scripts/storm.sh (Postgres, Redis, the fake
# Kubernetes API server with 1,000 deployments, a release hale-server),
# posting a storm of 1 M alerts: 100 distinct alerts (a `pod` label) on each
# of 1,000 deployments, every alert carrying 16 KiB of extra annotations,
# 10 alerts per request. hale-server's RSS is sampled every second; the
# report prints the peak, the RSS after the first minute, the highest RSS
# after it (the growth) and a timeline. Exits non-zero if more than one
# operation ran per deployment or the peak passes --rss-limit-mib (100).
set -euo pipefail

# shellcheck source=scripts/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench-common.sh"

# The run is longer than the default 15 min cooldown at a few hundred
# alerts/s; a day's cooldown keeps "one operation per deployment" a real
# check of the whole run.
export HALE_BENCH_COOLDOWN="${HALE_BENCH_COOLDOWN:-24h}"
bench_start
"$HALE_LOAD" storm --hale "$HALE_URL" --kube-url "$KUBE_URL" --pid "$HALE_PID" \
    --alerts 1000000 --resources 1000 --pods-per-resource 100 \
    --annotation-bytes 16384 --batch 10 --epochs 10 "$@"
