#!/usr/bin/env bash
# What `make test` runs: the unit/integration tests, then every molecule
# scenario. Every part runs even after a failure; a summary follows; the exit
# status is non-zero if any part failed. Nothing is left behind: molecule
# destroys its containers and network also when a step fails.
#
#   scripts/run-tests.sh                 everything
#   TEST_PARTS=pytest scripts/run-tests.sh      only pytest
#   TEST_PARTS=molecule scripts/run-tests.sh    only the molecule scenarios
set -uo pipefail   # no -e: a failing part must not stop the others

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
VENV="${VENV:-$ROOT/.venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
PARTS="${TEST_PARTS:-pytest molecule}"

say() { echo "==> [test] $*"; }
die() { echo "ERROR [test]: $*" >&2; exit 2; }

# The pinned tools (never Debian's /usr/bin/ansible*): the venv comes first.
[ -x "$VENV/bin/molecule" ] && [ -x "$VENV/bin/pytest" ] \
    || die "no pinned tools in $VENV: run 'make venv' (or 'make test', which does)"
export PATH="$VENV/bin:$PATH"
export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$ROOT/ansible.cfg}"
# Plain output in CI logs and pipes.
if [ -n "${CI:-}" ] || [ ! -t 1 ]; then
    export NO_COLOR=1 PY_COLORS=0 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
fi

declare -a NAMES=() RESULTS=() TIMES=()
passed=0 failed=0

# run_part NAME CMD...: run one part, record its result and duration.
run_part() {
    local name=$1 start=$SECONDS rc
    shift
    say "$name: $*"
    "$@"
    rc=$?
    NAMES+=("$name"); TIMES+=("$((SECONDS - start))s")
    if [ "$rc" -eq 0 ]; then
        RESULTS+=("ok"); passed=$((passed + 1))
    else
        RESULTS+=("FAILED (exit $rc)"); failed=$((failed + 1))
    fi
    say "$name: ${RESULTS[-1]} in ${TIMES[-1]}"
    return "$rc"
}

# ---- pytest -------------------------------------------------------------------
if [[ " $PARTS " == *" pytest "* ]]; then
    # Any non-zero exit is a failure, including 5 (no test collected).
    run_part pytest python -m pytest -q tests
fi

# ---- molecule -----------------------------------------------------------------
if [[ " $PARTS " == *" molecule "* ]]; then
    # Every scenario (molecule/NAME/molecule.yml over the shared base config
    # .config/molecule/config.yml), one after the other, by name: bypass (the
    # foundation), stack (the whole site.yml), suite (the eBPF suite).
    scenarios=()
    for f in molecule/*/molecule.yml; do
        [ -f "$f" ] && scenarios+=("$(basename "$(dirname "$f")")")
    done
    if [ "${#scenarios[@]}" -gt 0 ]; then
        # The scenarios need the engine and the local image (never pulled).
        if ! { scripts/ensure-dockerd.sh && scripts/lab-image.sh; }; then
            NAMES+=("molecule setup"); RESULTS+=("FAILED (dockerd or image)"); TIMES+=("-")
            failed=$((failed + 1))
        else
            for s in "${scenarios[@]}"; do
                if ! run_part "molecule $s" molecule test -s "$s" --destroy=always; then
                    # molecule destroys on failure itself; this catches a crash
                    # of molecule itself, so no container or network stays.
                    say "molecule $s: making sure its instances are gone"
                    molecule destroy -s "$s" >/dev/null 2>&1 || true
                fi
            done
        fi
    else
        say "no molecule scenario (molecule/*/molecule.yml)"
    fi
fi

# ---- summary ------------------------------------------------------------------
echo
say "summary"
for i in "${!NAMES[@]}"; do
    printf '    %-28s %-22s %s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${TIMES[$i]}"
done
echo "summary: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
