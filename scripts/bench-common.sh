# Shared by scripts/load.sh and scripts/storm.sh (sourced, not run): start
# the production shape on this machine and tear it down on exit.
#
#   bench_start   Postgres + Redis (scripts/services.sh, a private state
#                 directory), release builds of hale-server, hale-fake-kube
#                 and hale-load, the fake Kubernetes API server seeded with
#                 deployments, a fresh Postgres schema, a generated
#                 production config, and hale-server itself.
#   am_start      a real Alertmanager with a black-hole receiver (the
#                 reference peer for /api/v2/alerts).
#
# After bench_start: HALE_URL, HALE_PID, KUBE_URL, HALE_LOAD (the binary),
# HALE_LOAD_INGEST_TOKEN, HALE_LOAD_ADMIN_TOKEN, HALE_LABEL (the target's
# name in the tables) and BENCH_CPU (`--cpu NAME=PID` flags for
# `hale-load intake` and `storm`: hale-server, and in the Postgres shape the
# postmaster with its backends and redis-server) are set. After am_start:
# AM_URL. Everything started is stopped by the EXIT trap, which also stops
# the services and removes the scratch directory (set HALE_BENCH_KEEP=1 to
# keep it, with the server's log).
#
# Inputs: HALE_BENCH_DEPLOYMENTS (default 1000), HALE_BENCH_PG_CONNECTIONS
# (the server's pool, default 20), HALE_BENCH_SCHEMA_SQL (SQL run in the
# bench's schema after the server's migrations), HALE_BENCH_COOLDOWN (the strategy's
# cooldown, default 15m), HALE_BENCH_SECOND_TENANT (a second
# tenant in the generated config, for scripts/fairness.sh), HALE_SERVICES_DIR
# (default: inside the scratch directory, so CI's /tmp/hale-services is never
# touched), and:
#
#   HALE_BENCH_STORE=sqlite  the embedded default's store and locks, as
#                            `cargo run -p hale-server` runs with no config
#                            (SQLite in the scratch data directory,
#                            in-process locks); no Postgres and no Redis are
#                            started. The executor stays the Kubernetes one
#                            against the fake API server, so the work per
#                            alert is the same as in the production shape.
#                            Default: postgres (Postgres + Redis).
#   HALE_BENCH_PG_DURABLE=1  Postgres at its durable defaults (fsync and
#                            full_page_writes on; scripts/services.sh
#                            HALE_SERVICES_PG_DURABLE=1) instead of the test
#                            cluster's fsync = off.
#   HALE_BENCH_PG_STATEMENTS=1  load pg_stat_statements and print the 25
#                            statements that took Postgres the most time
#                            (bench_pg_statements, at the end of a run).
#   HALE_BENCH_NO_BUILD=1    no `cargo build --release`: use the binaries
#                            already in $CARGO_TARGET_DIR/release (or
#                            target/release) as they are.
#
# The header (stderr) names the commit (`git rev-parse --short HEAD`, with
# +dirty when the tree has changes), the machine, the load average and the
# shape.

# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BENCH_DIR="$(mktemp -d /tmp/hale-bench.XXXXXX)"
# Postgres runs as its own user and must traverse into the services dir.
chmod 0755 "$BENCH_DIR"
export HALE_SERVICES_DIR="${HALE_SERVICES_DIR:-$BENCH_DIR/services}"
BENCH_PIDS=()
SERVICES_UP=0

blog() { printf '[bench] %s\n' "$*" >&2; }
bdie() {
    blog "ERROR: $*"
    exit 1
}

bench_cleanup() {
    local rc=$? pid
    trap '' INT TERM
    for pid in "${BENCH_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${BENCH_PIDS[@]}"; do
        # Give each a few seconds for a graceful stop, then insist.
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if ((SERVICES_UP)); then "$ROOT/scripts/services.sh" stop || true; fi
    if [[ "${HALE_BENCH_KEEP:-0}" == 1 ]]; then
        blog "kept $BENCH_DIR"
    else
        rm -rf -- "$BENCH_DIR"
    fi
    exit "$rc"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_line FILE PREFIX SECONDS: print the rest of the first line of FILE
# that starts with PREFIX, waiting for it.
wait_line() {
    local file="$1" prefix="$2" secs="$3" line
    for _ in $(seq 1 $((secs * 10))); do
        line="$(grep -m 1 "^$prefix" "$file" 2>/dev/null || true)"
        if [[ -n "$line" ]]; then
            printf '%s\n' "${line#"$prefix"}"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

random_token() { head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n'; }

BENCH_STORE="${HALE_BENCH_STORE:-postgres}"
case "$BENCH_STORE" in
    postgres | sqlite) ;;
    *) bdie "HALE_BENCH_STORE must be postgres or sqlite, not $BENCH_STORE" ;;
esac
if [[ "${HALE_BENCH_PG_DURABLE:-0}" == 1 ]]; then
    [[ "$BENCH_STORE" == postgres ]] || bdie "HALE_BENCH_PG_DURABLE=1 needs HALE_BENCH_STORE=postgres"
    export HALE_SERVICES_PG_DURABLE=1
fi
if [[ "${HALE_BENCH_PG_STATEMENTS:-0}" == 1 ]]; then
    [[ "$BENCH_STORE" == postgres ]] || bdie "HALE_BENCH_PG_STATEMENTS=1 needs HALE_BENCH_STORE=postgres"
    export HALE_SERVICES_PG_STATEMENTS=1
fi
if [[ -n "${HALE_BENCH_SCHEMA_SQL:-}" && "$BENCH_STORE" != postgres ]]; then
    bdie "HALE_BENCH_SCHEMA_SQL is Postgres SQL; it needs HALE_BENCH_STORE=postgres"
fi

# The commit measured: short hash, +dirty when tracked files have changes.
bench_commit() {
    local commit
    commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
        commit+="+dirty"
    fi
    printf '%s\n' "$commit"
}

# The shape, in words, for the header and the tables' target name.
bench_shape() {
    if [[ "$BENCH_STORE" == sqlite ]]; then
        printf 'SQLite + local locks + Kubernetes\n'
    elif [[ "${HALE_BENCH_PG_DURABLE:-0}" == 1 ]]; then
        printf 'Postgres fsync on + Redis + Kubernetes\n'
    else
        printf 'Postgres + Redis + Kubernetes\n'
    fi
}

bench_start() {
    blog "commit $(bench_commit); shape: $(bench_shape)"
    blog "machine: $(nproc) CPUs, $(grep -m 1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    if [[ "$BENCH_STORE" == postgres ]]; then
        SERVICES_UP=1
        "$ROOT/scripts/services.sh" start
        # shellcheck source=/dev/null
        source "$HALE_SERVICES_DIR/env"
        blog "postgres $(psql -X -A -t "$HALE_TEST_DATABASE_URL" -c "SELECT 'fsync ' || current_setting('fsync') || ', full_page_writes ' || current_setting('full_page_writes') || ', synchronous_commit ' || current_setting('synchronous_commit')")"
        if [[ "${HALE_BENCH_PG_STATEMENTS:-0}" == 1 ]]; then
            psql -q -X "$HALE_TEST_DATABASE_URL" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >&2
        fi
    fi

    if [[ "${HALE_BENCH_NO_BUILD:-0}" == 1 ]]; then
        # The header's commit is the tree's; these binaries may be older.
        blog "HALE_BENCH_NO_BUILD=1: using the binaries in $TARGET_DIR/release as they are (hale-server built $(date -u -r "$TARGET_DIR/release/hale-server" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?'))"
    else
        blog "building release binaries (hale-server, hale-fake-kube, hale-load)"
        (cd "$ROOT" && cargo build --release --quiet -p hale-server -p hale-fake-kube -p hale-load)
    fi
    local bin
    for bin in hale-server hale-fake-kube hale-load; do
        [[ -x "$TARGET_DIR/release/$bin" ]] || bdie "$TARGET_DIR/release/$bin is missing"
    done
    HALE_LOAD="$TARGET_DIR/release/hale-load"

    "$TARGET_DIR/release/hale-fake-kube" --listen 127.0.0.1:0 >"$BENCH_DIR/fake-kube.log" 2>&1 &
    BENCH_PIDS+=($!)
    KUBE_URL="$(wait_line "$BENCH_DIR/fake-kube.log" "listening on " 30)" ||
        bdie "the fake API server did not start: $(cat "$BENCH_DIR/fake-kube.log")"
    "$HALE_LOAD" seed-kube --kube-url "$KUBE_URL" --deployments "${HALE_BENCH_DEPLOYMENTS:-1000}" >&2

    local schema="" store_args=()
    if [[ "$BENCH_STORE" == postgres ]]; then
        schema="hale_bench_$(date +%s)"
        "$HALE_LOAD" setup-db --database-url "$HALE_TEST_DATABASE_URL" --schema "$schema" >&2
        store_args=(--store postgres --database-url "$HALE_TEST_DATABASE_URL" --schema "$schema"
            --redis-url "$HALE_TEST_REDIS_URL"
            --max-connections "${HALE_BENCH_PG_CONNECTIONS:-20}")
    else
        store_args=(--store sqlite)
    fi
    BENCH_SCHEMA="$schema"
    HALE_LOAD_INGEST_TOKEN="$(random_token)"
    HALE_LOAD_ADMIN_TOKEN="$(random_token)"
    export HALE_LOAD_INGEST_TOKEN HALE_LOAD_ADMIN_TOKEN
    mkdir -p "$BENCH_DIR/data"
    "$HALE_LOAD" config "${store_args[@]}" --kube-url "$KUBE_URL" \
        --data-dir "$BENCH_DIR/data" \
        --cooldown "${HALE_BENCH_COOLDOWN:-15m}" \
        ${HALE_BENCH_SECOND_TENANT:+--second-tenant "$HALE_BENCH_SECOND_TENANT"} >"$BENCH_DIR/hale.toml"
    "$TARGET_DIR/release/hale-server" check-config --config "$BENCH_DIR/hale.toml" >&2

    RUST_LOG="${RUST_LOG:-warn}" "$TARGET_DIR/release/hale-server" --config "$BENCH_DIR/hale.toml" \
        >"$BENCH_DIR/hale.log" 2>&1 &
    HALE_PID=$!
    BENCH_PIDS+=("$HALE_PID")
    local addr
    addr="$(wait_line "$BENCH_DIR/hale.log" "Hale is listening on " 60)" ||
        bdie "hale-server did not start: $(tail -n 20 "$BENCH_DIR/hale.log")"
    HALE_URL="$addr"
    if [[ -n "${HALE_BENCH_SCHEMA_SQL:-}" ]]; then
        # Try a schema change (or undo one, for a "before" figure) without
        # a build: run as the owner in the bench's schema, after the
        # server's migrations and before any traffic.
        blog "schema change: $HALE_BENCH_SCHEMA_SQL"
        PGOPTIONS="-c search_path=$schema" psql -q -v ON_ERROR_STOP=1 \
            "$HALE_TEST_DATABASE_URL" -c "$HALE_BENCH_SCHEMA_SQL" >&2
    fi
    # shellcheck disable=SC2034 # read by scripts/load.sh
    HALE_LABEL="hale ($(bench_shape))"
    # CPU time per alert: hale-server; in the Postgres shape also the
    # postmaster with all its children (the server's pooled backends, which
    # stay connected through a run, plus the background processes) and
    # redis-server. Live processes are read before and after each measured
    # window; a process that exits inside a window takes its time with it
    # (see apps/hale-load/src/cpu.rs), so short-lived autovacuum workers may
    # be missed.
    BENCH_CPU=(--cpu "hale-server=$HALE_PID")
    if [[ "$BENCH_STORE" == postgres ]]; then
        local postmaster
        postmaster="$(head -n 1 "$HALE_TEST_PGDATA/postmaster.pid")"
        BENCH_CPU+=(--cpu "postgres=$postmaster" --cpu "redis=$HALE_TEST_REDIS_PID")
        blog "hale-server $HALE_URL (pid $HALE_PID, schema $schema), postmaster pid $postmaster, fake API server $KUBE_URL"
    else
        blog "hale-server $HALE_URL (pid $HALE_PID, SQLite in $BENCH_DIR/data), fake API server $KUBE_URL"
    fi
}

# bench_pg_stats: how the hottest tables' updates went (HOT = heap-only
# tuples: no index entry written) and how many dead row versions are left.
# Nothing in the SQLite shape.
bench_pg_stats() {
    [[ "$BENCH_STORE" == postgres ]] || return 0
    sleep 2 # the statistics collector flushes about once a second
    psql -q -X -P pager=off "$HALE_TEST_DATABASE_URL" -c "
        SELECT relname AS table, n_tup_ins AS inserts, n_tup_upd AS updates,
               n_tup_hot_upd AS hot_updates,
               round(100.0 * n_tup_hot_upd / nullif(n_tup_upd, 0), 1) AS hot_pct,
               n_dead_tup AS dead_rows, autovacuum_count AS autovacuums
        FROM pg_stat_user_tables
        WHERE schemaname = '$BENCH_SCHEMA'
          AND relname IN ('alert_fingerprints', 'incidents', 'audit_log', 'timeline_events')
        ORDER BY relname" >&2
}

# bench_pg_statements: with HALE_BENCH_PG_STATEMENTS=1, the statements that
# took the most time in Postgres since the server started (the profile
# behind the CPU figures), with their calls and mean time.
bench_pg_statements() {
    [[ "$BENCH_STORE" == postgres && "${HALE_BENCH_PG_STATEMENTS:-0}" == 1 ]] || return 0
    psql -q -X -P pager=off "$HALE_TEST_DATABASE_URL" -c "
        SELECT round(total_exec_time::numeric, 0) AS total_ms, calls,
               round(mean_exec_time::numeric, 3) AS mean_ms, rows,
               left(regexp_replace(query, '\s+', ' ', 'g'), 110) AS statement
        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 25"
}

am_start() {
    local port
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
    mkdir -p "$BENCH_DIR/am"
    # A black-hole receiver: the reference measures ingest (validation,
    # storage, grouping), not notification delivery.
    cat >"$BENCH_DIR/am/alertmanager.yml" <<'EOF'
route:
  receiver: blackhole
  group_by: ['alertname', 'service']
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: blackhole
EOF
    "${HALE_TEST_ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}" \
        --config.file="$BENCH_DIR/am/alertmanager.yml" \
        --storage.path="$BENCH_DIR/am/data" \
        --web.listen-address="127.0.0.1:$port" \
        --cluster.listen-address= \
        --log.level=warn >"$BENCH_DIR/am/alertmanager.log" 2>&1 &
    BENCH_PIDS+=($!)
    AM_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 200); do
        if curl -fsS "$AM_URL/-/ready" >/dev/null 2>&1; then
            blog "alertmanager $AM_URL ($("${HALE_TEST_ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}" --version 2>&1 | head -n 1))"
            return 0
        fi
        sleep 0.1
    done
    bdie "alertmanager did not become ready: $(cat "$BENCH_DIR/am/alertmanager.log")"
}
