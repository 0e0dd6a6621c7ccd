#!/usr/bin/env bash
# Mutation testing of hale-domain: do the domain's own tests kill what they
# claim to protect? Runs cargo-mutants on the crate (installing it if
# missing), prints the score caught / (caught + missed) and every survivor,
# and checks each survivor against the list of equivalent mutants in
# docs/ARCHITECTURE.md ("Testing: mutation score").
#
#   scripts/mutants.sh                 every mutant of crates/hale-domain
#   scripts/mutants.sh --in-diff       only mutants on lines changed since
#                                      `main` (git diff main, uncommitted
#                                      changes included)
#   scripts/mutants.sh --in-diff REF   ... changed since REF
#   scripts/mutants.sh --file PATH     one file (repeatable), e.g.
#                                      --file crates/hale-domain/src/breaker.rs
#   scripts/mutants.sh --iterate       re-test only the previous run's
#                                      survivors and new mutants
#   scripts/mutants.sh -j N            parallel jobs for a whole-crate run
#                                      (default 2; small runs use one)
#   scripts/mutants.sh -- ARGS         extra arguments for cargo-mutants
#
# Exit status: 0 when the score is at least HALE_MUTANTS_MIN percent
# (default 90) and every survivor is explained; 1 otherwise; 2 on a usage
# error. A diff that touches no mutable line of hale-domain passes at once.
#
# Output goes to target/mutants/mutants.out (outcomes.json, caught.txt,
# missed.txt, ...). Small runs build in target/mutants/build, kept between
# runs so only the first one compiles the dependencies.
#
# Speed: each mutant rebuilds the crate's unit tests and runs them with
# nextest (only `--lib`: every domain test is a unit test, so a mutant costs
# one compile of the crate). On two idle cores a mutant takes 10-20 s; the
# whole crate (about 660 mutants) takes one to two hours, a typical
# --in-diff a few minutes.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
cd "$ROOT"

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

CRATE_DIR="crates/hale-domain"
DOC="docs/ARCHITECTURE.md"
MIN="${HALE_MUTANTS_MIN:-90}"
JOBS=2
IN_DIFF=""
ITERATE=0
FILES=()
EXTRA=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --in-diff)
            IN_DIFF="main"
            if [[ $# -gt 1 && "$2" != -* ]]; then
                IN_DIFF="$2"
                shift
            fi
            ;;
        --file)
            [[ $# -gt 1 ]] || {
                usage >&2
                exit 2
            }
            FILES+=("$2")
            shift
            ;;
        --iterate) ITERATE=1 ;;
        -j | --jobs)
            [[ $# -gt 1 ]] || {
                usage >&2
                exit 2
            }
            JOBS="$2"
            shift
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        --)
            shift
            EXTRA=("$@")
            break
            ;;
        *)
            printf 'unknown argument: %s (see --help)\n' "$1" >&2
            exit 2
            ;;
    esac
    shift
done

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! cargo mutants --version >/dev/null 2>&1; then
    printf 'cargo-mutants not found; installing it from crates.io\n'
    cargo install --locked cargo-mutants
fi

OUT="$ROOT/target/mutants"
mkdir -p "$OUT"
# Debug info is useless here and slows each build.
export CARGO_PROFILE_TEST_DEBUG=0 CARGO_PROFILE_DEV_DEBUG=0
# cargo-mutants builds in a copy of the tree, by default with a target
# directory per copy, so every run compiles the dependencies first (2-4
# minutes on two busy cores). A small run (--in-diff, --file, --iterate)
# shares one kept between runs instead, and runs one job: the copies of
# the crate would build the same artifact names there (cargo hashes a path
# package by its place in the workspace, not on disk), and two jobs would
# test each other's binaries. A whole-crate run keeps a directory per job so
# its builds run in parallel.
if [[ -n "$IN_DIFF" || ${#FILES[@]} -gt 0 || "$ITERATE" -eq 1 ]]; then
    export CARGO_TARGET_DIR="${HALE_MUTANTS_TARGET_DIR:-$OUT/build}"
    JOBS=1
fi

ARGS=(--package hale-domain --jobs "$JOBS" --output "$OUT" --cargo-arg=--lib)
if cargo nextest --version >/dev/null 2>&1; then
    ARGS+=(--test-tool nextest)
fi
for f in ${FILES[@]+"${FILES[@]}"}; do
    ARGS+=(--file "$f")
done
if ((ITERATE)); then
    ARGS+=(--iterate)
fi
if [[ -n "$IN_DIFF" ]]; then
    if ! git rev-parse --verify --quiet "$IN_DIFF^{commit}" >/dev/null; then
        printf 'no commit %s to diff against (fetch it, or name one: --in-diff REF)\n' \
            "$IN_DIFF" >&2
        exit 2
    fi
    DIFF="$OUT/in-diff.patch"
    git diff "$IN_DIFF" -- "$CRATE_DIR" >"$DIFF"
    if [[ ! -s "$DIFF" ]]; then
        printf 'no change to %s since %s: nothing to mutate\n' "$CRATE_DIR" "$IN_DIFF"
        exit 0
    fi
    ARGS+=(--in-diff "$DIFF")
fi

START=$SECONDS
rc=0
cargo mutants "${ARGS[@]}" ${EXTRA[@]+"${EXTRA[@]}"} || rc=$?
ELAPSED=$((SECONDS - START))
# cargo-mutants exits 2 when a mutant survived and 3 on timeouts; the score
# below decides. Anything else (a failing baseline, a usage error) is fatal.
case "$rc" in
    0 | 2 | 3) ;;
    *)
        printf 'cargo mutants failed (exit %d)\n' "$rc" >&2
        exit "$rc"
        ;;
esac

RESULTS="$OUT/mutants.out"
count() {
    local n
    n="$(grep -c . "$RESULTS/$1.txt" 2>/dev/null || true)"
    printf '%d' "${n:-0}"
}
CAUGHT=$(count caught)
MISSED=$(count missed)
TIMEOUT=$(count timeout)
UNVIABLE=$(count unviable)
if ((ITERATE)); then
    printf '\n(--iterate: the counts are this pass only; earlier catches stand)\n'
fi
printf '\n==> hale-domain mutation score (%dm%02ds)\n' $((ELAPSED / 60)) $((ELAPSED % 60))
printf '  caught %d, missed %d, timeout %d, unviable %d\n' \
    "$CAUGHT" "$MISSED" "$TIMEOUT" "$UNVIABLE"
SCORE=100
if ((CAUGHT + MISSED > 0)); then
    SCORE=$((100 * CAUGHT / (CAUGHT + MISSED)))
    printf '  score: %d.%d %% (caught / (caught + missed))\n' "$SCORE" \
        $((1000 * CAUGHT / (CAUGHT + MISSED) % 10))
fi

# A survivor is explained when docs/ARCHITECTURE.md lists it, written as
# `file: mutation` (the path under src/, without line and column, so the
# entry survives edits elsewhere in the file).
UNEXPLAINED=0
if ((MISSED > 0)); then
    printf '\n==> survivors\n'
    while IFS= read -r line; do
        key="$(sed -E "s|^$CRATE_DIR/src/||; s|^([^:]+):[0-9]+:[0-9]+:|\\1:|" <<<"$line")"
        if grep -qF -- "\`$key\`" "$DOC"; then
            printf '  equivalent  %s\n' "$line"
        else
            printf '  MISSED      %s\n' "$line"
            UNEXPLAINED=$((UNEXPLAINED + 1))
        fi
    done <"$RESULTS/missed.txt"
fi

FAILED=0
if [[ -z "$IN_DIFF" && ${#FILES[@]} -eq 0 && "$ITERATE" -eq 0 ]] && ((SCORE < MIN)); then
    printf '\nscore %d %% is below %d %%\n' "$SCORE" "$MIN"
    FAILED=1
fi
if ((UNEXPLAINED > 0)); then
    printf '\n%d survivor(s) not explained in %s: add a test that kills each one, or\n' \
        "$UNEXPLAINED" "$DOC"
    printf 'list it there as an equivalent mutant with the reason it cannot change behaviour\n'
    FAILED=1
fi
if ((FAILED == 0)); then
    printf '\nok\n'
fi
exit "$FAILED"
