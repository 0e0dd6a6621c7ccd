#!/usr/bin/env bash
# THE test command for Hale: formatting, lints, supply-chain checks and every
# test, against real Postgres and Redis started by scripts/services.sh.
#
#   scripts/test.sh                  everything (what CI runs)
#   scripts/test.sh --fast           skip clippy, cargo doc and cargo-deny
#   scripts/test.sh -- <args>        extra args for the test runner, e.g.
#                                    `scripts/test.sh --fast -- breaker`
#                                    (a filter; nextest and cargo test both
#                                    take one) or nextest flags like `-j 1`
#   HALE_MUTANTS=1 scripts/test.sh   also mutation-test the lines of
#                                    hale-domain changed since main
#                                    (scripts/mutants.sh --in-diff; off by
#                                    default: minutes, not seconds)
#
# Steps run in order and a failing step does not stop the later ones (so one
# run reports fmt, clippy and test failures together); the script exits
# non-zero if any step failed. Services are always stopped on exit, including
# on failure and Ctrl-C. A timing summary is printed at the end.
#
# Tests see HALE_REQUIRE_SERVICES=1: a test that needs Postgres or Redis and
# cannot reach it must fail rather than skip. The service variables
# (HALE_TEST_DATABASE_URL, HALE_TEST_REDIS_URL, ...) are documented at the
# top of scripts/services.sh.

# Functions here are called through `trap` and step "$@", which shellcheck
# cannot follow (it reports them as unreachable).
# shellcheck disable=SC2317

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
cd "$ROOT"

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

FAST=0
RUNNER_ARGS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --fast) FAST=1 ;;
        -h | --help)
            usage
            exit 0
            ;;
        --)
            shift
            RUNNER_ARGS=("$@")
            break
            ;;
        *)
            printf 'unknown argument: %s (see --help)\n' "$1" >&2
            exit 2
            ;;
    esac
    shift
done

# cargo-installed tools (cargo-deny) live here; CI shells may not have it on PATH.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH:/usr/sbin:/sbin"
export HALE_SERVICES_DIR="${HALE_SERVICES_DIR:-/tmp/hale-services}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

# === Step bookkeeping ========================================================

STEP_NAMES=()
STEP_SECS=()
STEP_RESULTS=()
FAILED=0
SCRIPT_START=$SECONDS
# The step in progress and when it began, so an interrupted run reports it.
CURRENT_STEP=""
CURRENT_START=0

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# Bold headings on a terminal, plain text in CI logs.
if [[ -t 1 ]]; then
    BOLD=$'\033[1m' RED=$'\033[1;31m' GREEN=$'\033[1;32m' RESET=$'\033[0m'
else
    BOLD="" RED="" GREEN="" RESET=""
fi

banner() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }

# Run one named step, record its duration and result, keep going on failure.
step() {
    local name="$1" start rc=0
    shift
    banner "$name: $*"
    start=$SECONDS
    CURRENT_STEP="$name" CURRENT_START=$start
    "$@" || rc=$?
    CURRENT_STEP=""
    STEP_NAMES+=("$name")
    STEP_SECS+=($((SECONDS - start)))
    if ((rc == 0)); then
        STEP_RESULTS+=("ok")
    else
        STEP_RESULTS+=("FAILED (exit $rc)")
        FAILED=1
    fi
    return 0
}

summary() {
    local i
    banner "Summary"
    for i in "${!STEP_NAMES[@]}"; do
        printf '  %-28s %8s  %s\n' "${STEP_NAMES[$i]}" "$(fmt_secs "${STEP_SECS[$i]}")" \
            "${STEP_RESULTS[$i]}"
    done
    printf '  %-28s %8s\n' "total" "$(fmt_secs $((SECONDS - SCRIPT_START)))"
}

# === Services ================================================================

SERVICES_STARTED=0
on_exit() {
    local rc=$?
    # No second Ctrl-C while cleaning up.
    trap '' INT TERM
    if [[ -n "$CURRENT_STEP" ]]; then
        STEP_NAMES+=("$CURRENT_STEP")
        STEP_SECS+=($((SECONDS - CURRENT_START)))
        STEP_RESULTS+=("INTERRUPTED")
    fi
    if ((SERVICES_STARTED)); then
        banner "stopping services"
        "$ROOT/scripts/services.sh" stop || true
    fi
    summary
    if ((rc == 0 && FAILED)); then rc=1; fi
    if ((rc == 0)); then
        printf '\n%sall steps passed%s\n' "$GREEN" "$RESET"
    else
        printf '\n%sFAILED (exit %d)%s\n' "$RED" "$rc" "$RESET"
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Set before starting, so a failure half-way through start still cleans up.
SERVICES_STARTED=1
start_services() {
    "$ROOT/scripts/services.sh" start || return $?
    # shellcheck source=/dev/null
    source "$HALE_SERVICES_DIR/env"
}
step "services" start_services
if ((FAILED)); then
    printf 'services failed to start; not running the tests\n' >&2
    exit 1
fi
export HALE_REQUIRE_SERVICES=1

# === Checks ==================================================================

ensure_cargo_deny() {
    if cargo deny --version >/dev/null 2>&1; then
        return 0
    fi
    local start=$SECONDS
    printf 'cargo-deny not found; installing it from crates.io\n'
    cargo install --locked cargo-deny || return $?
    printf 'installed cargo-deny in %s\n' "$(fmt_secs $((SECONDS - start)))"
}

step "cargo fmt" cargo fmt --all -- --check

# The simulator behind `hale replay` is an opt-in feature (it needs tokio's
# test-util, kept out of default builds); lint, document and test it too.
FEATURES=(--features hale-cli/simulate)

if ((FAST)); then
    printf '\n--fast: skipping clippy, cargo doc and cargo-deny\n'
else
    step "cargo clippy" cargo clippy --workspace --all-targets --locked "${FEATURES[@]}" -- -D warnings
    # Broken intra-doc links (a renamed item, a link to a private one).
    step "cargo doc" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked "${FEATURES[@]}"
    step "install cargo-deny" ensure_cargo_deny
    step "cargo deny" cargo deny --locked check bans licenses sources
fi

# === Tests ===================================================================

if cargo nextest --version >/dev/null 2>&1; then
    step "tests (nextest)" cargo nextest run --workspace --locked --no-fail-fast "${FEATURES[@]}" \
        ${RUNNER_ARGS[@]+"${RUNNER_ARGS[@]}"}
else
    printf 'cargo-nextest not found; using cargo test\n'
    step "tests (cargo test)" cargo test --workspace --locked --no-fail-fast "${FEATURES[@]}" \
        ${RUNNER_ARGS[@]+"${RUNNER_ARGS[@]}"}
fi
# nextest does not run doctests.
step "doctests" cargo test --workspace --doc --locked --no-fail-fast "${FEATURES[@]}"
# The bundled policies' expected decisions (docs/policy-testing.md): a
# policy change that alters one fails here with a diff.
step "policy tests" cargo run --quiet --locked -p hale-cli --features simulate --bin hale -- \
    policy test examples/replay/storm.test.toml
step "policy tests (effectiveness)" cargo run --quiet --locked -p hale-cli --features simulate --bin hale -- \
    policy test examples/effectiveness/chain.test.toml

# Opt-in: do hale-domain's tests kill the mutants of the lines this change
# touched? (docs/ARCHITECTURE.md, "Testing: mutation score").
if [[ "${HALE_MUTANTS:-0}" == 1 ]]; then
    step "mutants (in-diff)" "$ROOT/scripts/mutants.sh" --in-diff
fi

# on_exit prints the summary and turns FAILED into the exit status.
exit 0
