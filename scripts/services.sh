#!/usr/bin/env bash
# Throwaway backing services for Hale's adapter and end-to-end tests.
#
#   scripts/services.sh start   install what is missing, start Postgres and
#                               Redis on free loopback ports, write the env file
#   scripts/services.sh env     print the env file (`eval "$(... env)"` works)
#   scripts/services.sh stop    stop everything `start` started, remove the dir
#
# The script may also be sourced: `source scripts/services.sh start` runs the
# subcommand in a child bash (so this file's `set -euo pipefail` does not leak
# into the caller) and then sources the env file into the calling shell.
#
# Everything lives under one private state directory,
# ${HALE_SERVICES_DIR:-/tmp/hale-services}:
#
#   env            `export K=V` lines, see "Exported variables" below
#   pgdata/        Postgres cluster (owned by the `postgres` user)
#   postgres.log   Postgres server log
#   redis/         Redis working directory, redis.conf, redis.pid, redis.log
#   tls/           a throwaway CA (ca.pem) and the server certificate both
#                  services present (127.0.0.1 and localhost), made with the
#                  openssl command line tool
#
# Exported variables (written to $HALE_SERVICES_DIR/env):
#
#   HALE_TEST_DATABASE_URL      postgres://postgres@127.0.0.1:PORT/hale_test
#                               (superuser; tests create their own databases,
#                               schemas and roles from it)
#   HALE_TEST_MIGRATOR_DATABASE_URL / HALE_TEST_APP_DATABASE_URL
#                               hale_test as the `hale_migrator` (owns schema
#                               public) and `hale_app` (NOSUPERUSER,
#                               NOBYPASSRLS) roles
#   HALE_TEST_PG_BIN            directory holding pg_ctl, postgres, psql, ...
#   HALE_TEST_PGDATA            the cluster's data directory
#   HALE_TEST_PG_PORT           the TCP port Postgres listens on (127.0.0.1)
#   HALE_TEST_DATABASE_TLS_URL  the superuser URL over TLS, verified against
#                               the test CA: ...?sslmode=verify-full&sslrootcert=CA
#                               (same server: ssl = on accepts both)
#   HALE_TEST_TLS_CA_FILE       the test CA's certificate (PEM)
#   HALE_TEST_REDIS_URL         redis://127.0.0.1:PORT
#   HALE_TEST_REDIS_PORT        the port alone
#   HALE_TEST_REDIS_TLS_URL     rediss://127.0.0.1:TLS_PORT (the same server's
#                               tls-port; verify it with HALE_TEST_TLS_CA_FILE)
#   HALE_TEST_REDIS_TLS_PORT    that port alone
#   HALE_TEST_REDIS_PID         pid of the redis-server started here
#   HALE_TEST_REDIS_SERVER_BIN  the redis-server binary
#   HALE_TEST_REDIS_CONF        config file: `$BIN $CONF` restarts Redis on the
#                               same port (it writes its pid to redis/redis.pid)
#   HALE_TEST_ALERTMANAGER_BIN  /usr/bin/prometheus-alertmanager (not started
#                               here; tests run their own with their own config)
#   HALE_TEST_CHROMIUM          /usr/bin/chromium and
#   HALE_TEST_CHROMEDRIVER      /usr/bin/chromedriver (Debian's chromium and
#                               chromium-driver; the console's browser test
#                               starts its own headless browser)
#   HALE_SERVICES_DIR           the state directory itself
#
# Chaos tests that stop/start Postgres MUST run pg_ctl as the postgres user,
# because Postgres refuses to run as root, e.g.:
#
#   runuser -u postgres -- "$HALE_TEST_PG_BIN/pg_ctl" -D "$HALE_TEST_PGDATA" \
#       -m immediate stop
#   runuser -u postgres -- "$HALE_TEST_PG_BIN/pg_ctl" -D "$HALE_TEST_PGDATA" \
#       -l "$HALE_SERVICES_DIR/postgres.log" -w start
#
# The port and every other setting live in pgdata/postgresql.conf, so a plain
# `pg_ctl start` brings the server back on the same port.
#
# Optional inputs: HALE_SERVICES_DIR, HALE_SERVICES_TIMEOUT (seconds to wait
# for each service, default 60), HALE_SERVICES_PG_PORT / HALE_SERVICES_REDIS_PORT
# (pin a port instead of picking a free one), HALE_TEST_PG_BIN (use another
# Postgres installation), HALE_SERVICES_PG_DURABLE=1 (leave Postgres at its
# durable defaults, fsync and full_page_writes on, instead of turning them
# off for speed: the benchmarks' "fsync on" figures; tests keep the default),
# HALE_SERVICES_PG_STATEMENTS=1 (load pg_stat_statements, for the
# benchmarks' statement profile).
#
# `start` on a state directory that is already in use first stops what is
# recorded there, so running `start` twice in a row gives fresh services.
# Concurrent independent runs need distinct HALE_SERVICES_DIR values.

# --- Sourced mode -----------------------------------------------------------
# When sourced, do the work in a child process and import the result. This
# block must not change the calling shell's options or variables beyond HALE_*.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
    if HALE_SERVICES_DIR="${HALE_SERVICES_DIR:-/tmp/hale-services}" bash "${BASH_SOURCE[0]}" "$@"; then
        case "${1:-}" in
            start | env)
                # shellcheck source=/dev/null
                source "${HALE_SERVICES_DIR:-/tmp/hale-services}/env"
                ;;
            stop)
                unset HALE_TEST_DATABASE_URL HALE_TEST_MIGRATOR_DATABASE_URL \
                    HALE_TEST_APP_DATABASE_URL HALE_TEST_PG_BIN HALE_TEST_PGDATA \
                    HALE_TEST_PG_PORT HALE_TEST_REDIS_URL HALE_TEST_REDIS_PORT \
                    HALE_TEST_REDIS_PID HALE_TEST_REDIS_SERVER_BIN \
                    HALE_TEST_REDIS_CONF HALE_TEST_ALERTMANAGER_BIN \
                    HALE_TEST_CHROMIUM HALE_TEST_CHROMEDRIVER \
                    HALE_TEST_DATABASE_TLS_URL HALE_TEST_TLS_CA_FILE \
                    HALE_TEST_REDIS_TLS_URL HALE_TEST_REDIS_TLS_PORT
                ;;
        esac
        return 0
    else
        return $?
    fi
fi

set -euo pipefail

readonly STATE_DIR="${HALE_SERVICES_DIR:-/tmp/hale-services}"
readonly ENV_FILE="$STATE_DIR/env"
readonly PGDATA_DIR="$STATE_DIR/pgdata"
readonly PG_LOG="$STATE_DIR/postgres.log"
readonly REDIS_DIR="$STATE_DIR/redis"
readonly REDIS_CONF="$REDIS_DIR/redis.conf"
readonly REDIS_PIDFILE="$REDIS_DIR/redis.pid"
readonly REDIS_LOG="$REDIS_DIR/redis.log"
readonly TLS_DIR="$STATE_DIR/tls"
readonly TLS_CA="$TLS_DIR/ca.pem"
# Marks a directory as ours, so `stop` never deletes a directory that merely
# happens to be named by HALE_SERVICES_DIR.
readonly MARKER="$STATE_DIR/.hale-services"
readonly ALERTMANAGER_BIN="/usr/bin/prometheus-alertmanager"
readonly CHROMIUM_BIN="/usr/bin/chromium"
readonly CHROMEDRIVER_BIN="/usr/bin/chromedriver"
readonly TIMEOUT="${HALE_SERVICES_TIMEOUT:-60}"
readonly PG_USER="postgres"
readonly DB_NAME="hale_test"

log() { printf '[services] %s\n' "$*" >&2; }
die() {
    printf '[services] ERROR: %s\n' "$*" >&2
    exit 1
}

# Print a command's wall-clock duration; used so CI logs show where time goes.
now() { date +%s.%N; }
elapsed_since() { awk -v s="$1" -v e="$(now)" 'BEGIN { printf "%.1fs", e - s }'; }

# Run a command as the postgres OS user; Postgres refuses to run as root.
as_pg() {
    if [[ "$(id -u)" -eq 0 ]]; then
        runuser -u "$PG_USER" -- "$@"
    elif [[ "$(id -un)" == "$PG_USER" ]]; then
        "$@"
    else
        die "must run as root (to switch to the $PG_USER user) or as $PG_USER"
    fi
}

# === Packages ================================================================

# Install Debian packages, without starting their system services.
#
# The redis-server and prometheus-alertmanager packages start a system-wide
# daemon on 6379/9093 from their postinst via invoke-rc.d. A policy-rc.d that
# exits 101 ("action forbidden") stops that; any existing policy-rc.d is put
# back afterwards.
apt_install() {
    [[ $# -gt 0 ]] || return 0
    [[ "$(id -u)" -eq 0 ]] || die "need root to install: $* (or install them yourself)"
    command -v apt-get >/dev/null || die "apt-get not found; install by hand: $*"

    local policy=/usr/sbin/policy-rc.d backup=""
    if [[ -e "$policy" ]]; then
        backup="$(mktemp)"
        cp -p "$policy" "$backup"
    fi
    printf '#!/bin/sh\n# Written by hale scripts/services.sh during apt-get install.\nexit 101\n' >"$policy"
    chmod 0755 "$policy"

    local start rc=0
    start="$(now)"
    log "installing: $* (apt-get update + install)"
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                --no-install-recommends "$@"
    } >&2 || rc=$?
    # Put the previous policy back whether or not the install worked.
    restore_policy_rc_d "$policy" "$backup"
    ((rc == 0)) || die "apt-get install $* failed (exit $rc)"
    log "installed $* in $(elapsed_since "$start")"
    stop_system_daemons
}

restore_policy_rc_d() {
    local policy="$1" backup="$2"
    if [[ -n "$backup" ]]; then
        mv -f "$backup" "$policy"
    else
        rm -f "$policy"
    fi
}

# Belt and braces after an install: if a system daemon came up anyway (e.g. on
# a host with systemd that ignores policy-rc.d), stop and disable it so nothing
# is left listening on the default ports.
stop_system_daemons() {
    local svc
    for svc in redis-server prometheus-alertmanager; do
        if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
            systemctl disable --now "$svc" >/dev/null 2>&1 || true
        fi
        if [[ -x "/etc/init.d/$svc" ]]; then
            "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
        fi
    done
    local port
    for port in 6379 9093; do
        if port_in_use "$port"; then
            log "warning: something still listens on 127.0.0.1:$port after the install"
        fi
    done
}

# Find (or install) everything `start` needs.
ensure_packages() {
    local missing=()
    [[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
    # redis-cli is in redis-tools, a dependency of redis-server, but check it
    # on its own in case only the server binary was copied in.
    [[ -x /usr/bin/redis-cli ]] || missing+=(redis-tools)
    [[ -x "$ALERTMANAGER_BIN" ]] || missing+=(prometheus-alertmanager)
    command -v socat >/dev/null || missing+=(socat)
    # The operator console's browser test: headless Chromium through
    # chromedriver, and a font for its screenshots.
    [[ -x "$CHROMIUM_BIN" ]] || missing+=(chromium)
    [[ -x "$CHROMEDRIVER_BIN" ]] || missing+=(chromium-driver)
    [[ -d /usr/share/fonts/truetype/dejavu ]] || missing+=(fonts-dejavu-core)
    command -v openssl >/dev/null || missing+=(openssl)
    if [[ -z "$(find_pg_bin)" ]]; then
        missing+=(postgresql)
    fi
    if [[ ${#missing[@]} -gt 0 ]]; then
        apt_install "${missing[@]}"
    else
        log "packages present: redis-server redis-tools prometheus-alertmanager socat openssl postgresql chromium chromium-driver"
    fi
    id "$PG_USER" >/dev/null 2>&1 || die "OS user '$PG_USER' does not exist"
}

# The newest Postgres bin directory: $HALE_TEST_PG_BIN, Debian's
# /usr/lib/postgresql/N/bin, or whatever pg_ctl is on PATH.
find_pg_bin() {
    if [[ -n "${HALE_TEST_PG_BIN:-}" && -x "${HALE_TEST_PG_BIN}/pg_ctl" ]]; then
        printf '%s\n' "$HALE_TEST_PG_BIN"
        return 0
    fi
    local dir
    dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
        sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/pg_ctl" ]]; then
        printf '%s\n' "$dir"
        return 0
    fi
    if command -v pg_ctl >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
    fi
}

# === Ports ===================================================================

# True if something accepts TCP connections on 127.0.0.1:$1.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Print a port with no listener. Ports come from below the kernel's ephemeral
# range so outgoing client connections cannot be handed the same number.
# The port is only free at the time of the check; callers retry on a
# bind failure.
free_port() {
    local low=20000 high=32000 port _
    if [[ -r /proc/sys/net/ipv4/ip_local_port_range ]]; then
        local eph_low
        read -r eph_low _ </proc/sys/net/ipv4/ip_local_port_range
        if ((eph_low - 1 < high)); then high=$((eph_low - 1)); fi
        if ((high - low < 1000)); then low=$((high - 1000)); fi
    fi
    for _ in $(seq 1 200); do
        port=$((low + RANDOM % (high - low)))
        if ! port_in_use "$port"; then
            printf '%s\n' "$port"
            return 0
        fi
    done
    die "could not find a free TCP port in $low-$high"
}

# Poll a command until it succeeds, at most $TIMEOUT seconds.
wait_for() {
    local what="$1"
    shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.2
    done
    log "$what is ready"
}

# === TLS =====================================================================

# A throwaway CA and one server certificate (P-256) for 127.0.0.1 and
# localhost, valid for 30 days, used by Postgres (ssl = on) and Redis
# (tls-port). Clients verify against $TLS_CA; nothing here is trusted by
# the system.
tls_certs() {
    mkdir -p "$TLS_DIR"
    chmod 0755 "$TLS_DIR"
    local start
    start="$(now)"
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$TLS_DIR/ca.key" -out "$TLS_CA" -days 30 \
        -subj "/CN=hale test CA" >/dev/null 2>&1 ||
        die "openssl could not make the test CA"
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
        -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.csr" \
        -subj "/CN=localhost" >/dev/null 2>&1 ||
        die "openssl could not make the server key"
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' \
        >"$TLS_DIR/server.ext"
    openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_CA" -CAkey "$TLS_DIR/ca.key" \
        -CAcreateserial -out "$TLS_DIR/server.pem" -days 30 \
        -extfile "$TLS_DIR/server.ext" >/dev/null 2>&1 ||
        die "openssl could not sign the server certificate"
    chmod 0644 "$TLS_CA" "$TLS_DIR/server.pem"
    chmod 0600 "$TLS_DIR/ca.key" "$TLS_DIR/server.key"
    log "TLS test CA and server certificate made in $(elapsed_since "$start")"
}

# === Postgres ================================================================

pg_start() {
    local pg_bin="$1" port="" attempt

    # The state dir must be traversable by postgres, including its parents
    # (a HALE_SERVICES_DIR under /root would not be).
    as_pg test -x "$STATE_DIR" ||
        die "$STATE_DIR is not reachable by the $PG_USER user; choose a HALE_SERVICES_DIR under /tmp"

    mkdir -p "$PGDATA_DIR"
    chown "$PG_USER:" "$PGDATA_DIR"
    chmod 0700 "$PGDATA_DIR"
    : >"$PG_LOG"
    chown "$PG_USER:" "$PG_LOG"

    # Trust auth is safe here only because the server listens on loopback and
    # the hba file admits loopback only (there is no unix socket at all).
    as_pg "$pg_bin/initdb" --pgdata="$PGDATA_DIR" --username=postgres \
        --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-instructions >/dev/null
    cat >"$PGDATA_DIR/pg_hba.conf" <<'EOF'
# Written by hale scripts/services.sh: loopback TCP only, trust.
host all all 127.0.0.1/32 trust
host all all ::1/128      trust
EOF
    cat >>"$PGDATA_DIR/postgresql.conf" <<'EOF'

# --- hale scripts/services.sh -----------------------------------------------
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
# Parallel tests each open small pools against their own databases.
max_connections = 300
log_min_messages = warning
log_connections = off
# TLS with the test CA's server certificate; plain TCP keeps working.
ssl = on
ssl_cert_file = 'server.pem'
ssl_key_file = 'server.key'
EOF
    if [[ "${HALE_SERVICES_PG_STATEMENTS:-0}" == 1 ]]; then
        cat >>"$PGDATA_DIR/postgresql.conf" <<'EOF'
# HALE_SERVICES_PG_STATEMENTS=1: per-statement time for the benchmarks.
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
EOF
    fi
    if [[ "${HALE_SERVICES_PG_DURABLE:-0}" == 1 ]]; then
        cat >>"$PGDATA_DIR/postgresql.conf" <<'EOF'
# HALE_SERVICES_PG_DURABLE=1: fsync and full_page_writes stay at their
# durable defaults (on).
EOF
        log "Postgres at its durable defaults (fsync on, full_page_writes on)"
    else
        cat >>"$PGDATA_DIR/postgresql.conf" <<'EOF'
# Throwaway data: skip fsync. synchronous_commit stays on so a commit has
# reached the kernel before it returns, and a chaos test that kills the server
# (pg_ctl -m immediate) still finds every committed row after a restart.
fsync = off
full_page_writes = off
EOF
    fi
    # Postgres insists that its key belongs to it and is private.
    install -m 0644 -o "$PG_USER" "$TLS_DIR/server.pem" "$PGDATA_DIR/server.pem"
    install -m 0600 -o "$PG_USER" "$TLS_DIR/server.key" "$PGDATA_DIR/server.key"

    for attempt in $(seq 1 20); do
        port="${HALE_SERVICES_PG_PORT:-$(free_port)}"
        # Later settings win, so appending the port per attempt is enough.
        printf 'port = %s\n' "$port" >>"$PGDATA_DIR/postgresql.conf"
        # pg_ctl makes the postmaster a session leader, so a Ctrl-C aimed at
        # the caller (scripts/test.sh, cargo) does not reach it; `stop` does.
        if as_pg "$pg_bin/pg_ctl" --pgdata="$PGDATA_DIR" --log="$PG_LOG" \
            --wait --timeout="$TIMEOUT" start >/dev/null 2>&1; then
            break
        fi
        if [[ -n "${HALE_SERVICES_PG_PORT:-}" || $attempt -eq 20 ]]; then
            tail -n 20 "$PG_LOG" >&2 || true
            die "Postgres failed to start (last port tried: $port); log: $PG_LOG"
        fi
        log "Postgres could not start on port $port (busy?), retrying on another"
    done

    wait_for "Postgres on 127.0.0.1:$port" \
        "$pg_bin/pg_isready" --host=127.0.0.1 --port="$port" --username=postgres ||
        die "Postgres did not answer pg_isready within ${TIMEOUT}s; log: $PG_LOG"

    # Roles are cluster-wide, so tests that create their own databases can use
    # them too. hale_migrator owns the schema (it runs migrations); hale_app is
    # what the server connects as, and row-level security must apply to it.
    "$pg_bin/psql" --no-psqlrc --quiet --set=ON_ERROR_STOP=1 \
        "postgres://postgres@127.0.0.1:$port/postgres" >/dev/null <<EOF
CREATE ROLE hale_migrator LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD 'hale_migrator';
CREATE ROLE hale_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE PASSWORD 'hale_app';
CREATE DATABASE $DB_NAME OWNER postgres;
\connect $DB_NAME
ALTER SCHEMA public OWNER TO hale_migrator;
GRANT CONNECT, TEMPORARY ON DATABASE $DB_NAME TO hale_migrator, hale_app;
GRANT USAGE ON SCHEMA public TO hale_app;
ALTER DEFAULT PRIVILEGES FOR ROLE hale_migrator IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO hale_app;
ALTER DEFAULT PRIVILEGES FOR ROLE hale_migrator IN SCHEMA public
    GRANT USAGE, SELECT ON SEQUENCES TO hale_app;
EOF
    PG_PORT="$port"
}

pg_stop() {
    local pg_bin
    [[ -f "$PGDATA_DIR/PG_VERSION" ]] || return 0
    pg_bin="$(find_pg_bin)"
    [[ -n "$pg_bin" ]] || return 0
    # A chaos test may have left the postmaster stopped with SIGSTOP.
    local pid
    pid="$(head -n 1 "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)"
    if [[ "$pid" =~ ^[0-9]+$ ]]; then
        kill -CONT "$pid" 2>/dev/null || true
    fi
    if as_pg "$pg_bin/pg_ctl" --pgdata="$PGDATA_DIR" status >/dev/null 2>&1; then
        as_pg "$pg_bin/pg_ctl" --pgdata="$PGDATA_DIR" --mode=fast --wait \
            --timeout=30 stop >/dev/null 2>&1 ||
            as_pg "$pg_bin/pg_ctl" --pgdata="$PGDATA_DIR" --mode=immediate \
                --wait --timeout=30 stop >/dev/null 2>&1 ||
            log "warning: could not stop Postgres in $PGDATA_DIR"
        log "Postgres stopped"
    fi
}

# === Redis ===================================================================

redis_start() {
    local port="" tls_port="" attempt pid=""
    mkdir -p "$REDIS_DIR"
    for attempt in $(seq 1 20); do
        port="${HALE_SERVICES_REDIS_PORT:-$(free_port)}"
        tls_port="$(free_port)"
        [[ "$tls_port" != "$port" ]] || tls_port="$(free_port)"
        # No persistence at all: tests own their keys and a restart by a chaos
        # test must come back empty and fast.
        cat >"$REDIS_CONF" <<EOF
# Written by hale scripts/services.sh. Restart with: redis-server $REDIS_CONF
bind 127.0.0.1
protected-mode yes
port $port
daemonize no
save ""
appendonly no
dir $REDIS_DIR
pidfile $REDIS_PIDFILE
logfile $REDIS_LOG
# TLS on a second port with the test CA's server certificate; clients are
# not asked for certificates.
tls-port $tls_port
tls-cert-file $TLS_DIR/server.pem
tls-key-file $TLS_DIR/server.key
tls-ca-cert-file $TLS_CA
tls-auth-clients no
EOF
        rm -f "$REDIS_PIDFILE"
        # All output goes to the log file and stdin is closed, so a caller
        # piping our output (`start | tee`) is not held open by Redis. setsid
        # keeps a Ctrl-C aimed at the caller away from it (it execs in place
        # here, as a background child of a non-interactive shell is never a
        # process group leader, so $! is still the server's pid).
        setsid /usr/bin/redis-server "$REDIS_CONF" </dev/null >>"$REDIS_LOG" 2>&1 &
        pid=$!
        # Wait for PONG from *our* process; give up early if it exited (most
        # likely the port was taken between the check and the bind).
        local deadline=$((SECONDS + TIMEOUT)) up=0
        while ((SECONDS < deadline)); do
            if redis_ping "$port" && redis_tls_ping "$tls_port" && is_redis_pid "$pid"; then
                up=1
                break
            fi
            is_redis_pid "$pid" || break
            sleep 0.2
        done
        if ((up)); then
            log "Redis on 127.0.0.1:$port (TLS on $tls_port) is ready"
            break
        fi
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        if [[ -n "${HALE_SERVICES_REDIS_PORT:-}" || $attempt -eq 20 ]]; then
            tail -n 20 "$REDIS_LOG" >&2 || true
            die "Redis did not start or answer PING within ${TIMEOUT}s (port $port); log: $REDIS_LOG"
        fi
        log "Redis could not start on port $port (busy?), retrying on another"
    done
    # Redis has written its own pid by now; trust it over $! if they differ.
    if is_redis_pid "$(cat "$REDIS_PIDFILE" 2>/dev/null || true)"; then
        pid="$(cat "$REDIS_PIDFILE")"
    fi
    # Keep our own copy of the pid: tests may replace redis.pid on restart.
    printf '%s\n' "$pid" >"$REDIS_DIR/started.pid"
    REDIS_PORT="$port"
    REDIS_TLS_PORT="$tls_port"
    REDIS_PID="$pid"
}

# PING must answer PONG; a stopped (SIGSTOP) server would hang, hence timeout.
redis_ping() {
    [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == "PONG" ]]
}

# PING over TLS, verifying the server against the test CA.
redis_tls_ping() {
    [[ "$(timeout 2 redis-cli --tls --cacert "$TLS_CA" -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == "PONG" ]]
}

# True if $1 is a live redis-server process.
is_redis_pid() {
    [[ "$1" =~ ^[0-9]+$ ]] && [[ -r "/proc/$1/cmdline" ]] &&
        tr '\0' ' ' <"/proc/$1/cmdline" | grep -q 'redis-server'
}

redis_stop() {
    local pid pids=() stopped=0
    [[ -d "$REDIS_DIR" ]] || return 0
    # The pid we started and the pid of a server a chaos test restarted.
    pid="$(cat "$REDIS_DIR/started.pid" 2>/dev/null || true)"
    pids+=("$pid")
    pid="$(cat "$REDIS_PIDFILE" 2>/dev/null || true)"
    pids+=("$pid")
    for pid in "${pids[@]}"; do
        is_redis_pid "$pid" || continue
        # SIGCONT first: a stopped process does not act on SIGTERM.
        kill -CONT "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 10))
        while is_redis_pid "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        if is_redis_pid "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        stopped=1
    done
    if ((stopped)); then log "Redis stopped"; fi
}

# === Alertmanager ============================================================

alertmanager_check() {
    local version
    version="$("$ALERTMANAGER_BIN" --version 2>&1 | head -n 1)" ||
        die "$ALERTMANAGER_BIN --version failed: $version"
    log "alertmanager: $version"
}

# === Commands ================================================================

cmd_start() {
    local start
    start="$(now)"
    if [[ -e "$STATE_DIR" ]]; then
        log "$STATE_DIR exists; stopping whatever it recorded first"
        cmd_stop
    fi
    ensure_packages

    local pg_bin
    pg_bin="$(find_pg_bin)"
    [[ -n "$pg_bin" ]] || die "no Postgres installation found (pg_ctl)"

    # Private, but readable and traversable by postgres (pgdata is 0700 and
    # owned by postgres inside it).
    mkdir -p "$STATE_DIR"
    chmod 0755 "$STATE_DIR"
    : >"$MARKER"

    # Do not leave half-started services behind if anything below fails.
    trap 'status=$?; if ((status != 0)); then log "start failed; cleaning up"; cmd_stop; fi' EXIT

    alertmanager_check
    # The launcher script prints shell noise on stderr on some hosts; the version is on stdout.
    log "browser: $("$CHROMIUM_BIN" --version 2>/dev/null | head -n 1); $("$CHROMEDRIVER_BIN" --version 2>/dev/null | head -n 1)"
    tls_certs
    PG_PORT=""
    pg_start "$pg_bin"
    REDIS_PORT="" REDIS_TLS_PORT="" REDIS_PID=""
    redis_start

    local tmp="$ENV_FILE.tmp"
    {
        printf '# Written by hale scripts/services.sh start; source this file.\n'
        printf 'export HALE_SERVICES_DIR=%q\n' "$STATE_DIR"
        printf 'export HALE_TEST_DATABASE_URL=%q\n' "postgres://postgres@127.0.0.1:$PG_PORT/$DB_NAME"
        printf 'export HALE_TEST_MIGRATOR_DATABASE_URL=%q\n' \
            "postgres://hale_migrator:hale_migrator@127.0.0.1:$PG_PORT/$DB_NAME"
        printf 'export HALE_TEST_APP_DATABASE_URL=%q\n' \
            "postgres://hale_app:hale_app@127.0.0.1:$PG_PORT/$DB_NAME"
        printf 'export HALE_TEST_PG_BIN=%q\n' "$pg_bin"
        printf 'export HALE_TEST_PGDATA=%q\n' "$PGDATA_DIR"
        printf 'export HALE_TEST_PG_PORT=%q\n' "$PG_PORT"
        printf 'export HALE_TEST_REDIS_URL=%q\n' "redis://127.0.0.1:$REDIS_PORT"
        printf 'export HALE_TEST_REDIS_PORT=%q\n' "$REDIS_PORT"
        printf 'export HALE_TEST_REDIS_PID=%q\n' "$REDIS_PID"
        printf 'export HALE_TEST_REDIS_SERVER_BIN=%q\n' /usr/bin/redis-server
        printf 'export HALE_TEST_REDIS_CONF=%q\n' "$REDIS_CONF"
        printf 'export HALE_TEST_ALERTMANAGER_BIN=%q\n' "$ALERTMANAGER_BIN"
        printf 'export HALE_TEST_CHROMIUM=%q\n' "$CHROMIUM_BIN"
        printf 'export HALE_TEST_CHROMEDRIVER=%q\n' "$CHROMEDRIVER_BIN"
        printf 'export HALE_TEST_TLS_CA_FILE=%q\n' "$TLS_CA"
        printf 'export HALE_TEST_DATABASE_TLS_URL=%q\n' \
            "postgres://postgres@127.0.0.1:$PG_PORT/$DB_NAME?sslmode=verify-full&sslrootcert=$TLS_CA"
        printf 'export HALE_TEST_REDIS_TLS_URL=%q\n' "rediss://127.0.0.1:$REDIS_TLS_PORT"
        printf 'export HALE_TEST_REDIS_TLS_PORT=%q\n' "$REDIS_TLS_PORT"
    } >"$tmp"
    mv -f "$tmp" "$ENV_FILE"
    trap - EXIT

    log "Postgres  127.0.0.1:$PG_PORT (db $DB_NAME, ssl on), Redis 127.0.0.1:$REDIS_PORT and TLS $REDIS_TLS_PORT (pid $REDIS_PID)"
    log "services up in $(elapsed_since "$start"); source $ENV_FILE"
}

cmd_stop() {
    [[ -e "$STATE_DIR" ]] || return 0
    if [[ ! -e "$MARKER" ]] && [[ -n "$(ls -A "$STATE_DIR" 2>/dev/null)" ]]; then
        die "$STATE_DIR is not a hale services directory (no .hale-services); not touching it"
    fi
    redis_stop
    pg_stop
    rm -rf -- "$STATE_DIR"
    log "removed $STATE_DIR"
}

cmd_env() {
    [[ -f "$ENV_FILE" ]] || die "services are not running ($ENV_FILE missing); run: $0 start"
    cat "$ENV_FILE"
}

main() {
    case "${1:-}" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        env) cmd_env ;;
        *)
            printf 'usage: %s start|stop|env\n' "$0" >&2
            exit 2
            ;;
    esac
}

main "$@"
