#!/usr/bin/env bash
# The lab: two Debian 12 hosts with systemd, as containers on this machine.
#
#   scripts/lab.sh up       dockerd + image + network + lab-server/lab-test, then site.yml
#   scripts/lab.sh down     remove both containers and the network (no error if absent)
#   scripts/lab.sh status   show network, containers and their systemd state
#   scripts/lab.sh shell [lab-server|lab-test]   a root shell in one of them
#
# The containers share this machine's kernel (that is the point: the eBPF
# programs attach to it). They run systemd as PID 1 WITHOUT --privileged
# (privileged cannot start here: the host's bounding set lacks SYS_RESOURCE);
# instead they get an explicit capability list and unconfined seccomp/apparmor.
# The host's /sys/fs/cgroup is NEVER bind-mounted: systemd inside would remount
# it read-only and create cgroups on the host.
#
# Environment:
#   LAB_PLAYBOOK=site.yml      playbook run by `up` (relative to the repo root)
#   LAB_INVENTORY=...          pass -i to ansible-playbook (default: ansible.cfg's)
#   LAB_MODE=demo|course       demo: every program attached (default); course: the
#                              exercises' programs not attached, a workspace per lab
#   LAB_SKIP_PROVISION=1       only start the containers
#   LAB_SUBNET=10.231.77.0/24  the lab network (server .10, test .20)
#   LAB_BOOT_WAIT=90           seconds to wait for systemd in each container
#   VENV=.venv                 where the pinned ansible lives (make venv)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${LAB_IMAGE:-disgrafs-lab/debian-systemd:bookworm}"
NETWORK="disgrafs-lab"
SUBNET="${LAB_SUBNET:-10.231.77.0/24}"
PREFIX="${SUBNET%.*}"                  # 10.231.77
GATEWAY="$PREFIX.1"
MTU=1400                               # the host's MTU; docker's default 1500 would not fit
BOOT_WAIT="${LAB_BOOT_WAIT:-90}"
LABEL="org.disgrafs-lab=lab"
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
VENV="${VENV:-$ROOT/.venv}"
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac

# name -> fixed address on the lab network
declare -A HOST_IP=([lab-server]="$PREFIX.10" [lab-test]="$PREFIX.20")
HOSTS=(lab-server lab-test)

# Every capability Docker 20.10 knows, except SYS_RESOURCE (not in this host's
# bounding set). Docker 20.10 does not know BPF/PERFMON; SYS_ADMIN covers them.
# Keep in sync with .config/molecule/config.yml (every molecule scenario's containers).
CAPS=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
      LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK
      IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN
      SYS_BOOT SYS_NICE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE
      AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM
      BLOCK_SUSPEND AUDIT_READ)

say()  { echo "==> [lab] $*"; }
warn() { echo "WARNING [lab]: $*" >&2; }
die()  { echo "ERROR [lab]: $*" >&2; exit 1; }

exists()  { docker container inspect "$1" >/dev/null 2>&1; }
running() { [ "$(docker container inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

# ---- up -----------------------------------------------------------------------
create_network() {
    if docker network inspect "$NETWORK" >/dev/null 2>&1; then
        say "network $NETWORK exists ($(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}}' "$NETWORK"))"
        return
    fi
    say "creating network $NETWORK ($SUBNET, MTU $MTU)"
    docker network create --driver bridge --label "$LABEL" \
        --subnet "$SUBNET" --gateway "$GATEWAY" \
        -o com.docker.network.driver.mtu="$MTU" \
        "$NETWORK" >/dev/null \
        || die "cannot create network $NETWORK with $SUBNET (overlaps another network? set LAB_SUBNET=10.x.y.0/24)"
}

start_container() {
    local name=$1 args=() c
    if running "$name"; then
        say "$name is running (reused)"
        return
    fi
    if exists "$name"; then
        say "starting existing container $name"
        docker start "$name" >/dev/null || die "cannot start $name; 'scripts/lab.sh down' then 'up' recreates it"
        return
    fi
    for c in "${CAPS[@]}"; do args+=(--cap-add "$c"); done
    if [ -e /dev/fuse ]; then
        args+=(--device /dev/fuse)
    else
        warn "no /dev/fuse on this machine (modprobe fuse); JuiceFS mounts will not work"
    fi
    # pip inside the containers needs this machine's CA bundle (TLS is
    # intercepted here); `docker exec` sessions (Ansible) inherit PIP_CERT.
    [ -r "$CA_BUNDLE" ] && args+=(-v "$CA_BUNDLE:/etc/ssl/certs/host-ca.crt:ro" -e PIP_CERT=/etc/ssl/certs/host-ca.crt)
    say "creating container $name (${HOST_IP[$name]})"
    docker run -d --name "$name" --hostname "$name" --label "$LABEL" \
        --network "$NETWORK" --ip "${HOST_IP[$name]}" \
        "${args[@]}" \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --cgroupns private \
        --tmpfs /run --tmpfs /run/lock --tmpfs /sys/fs/cgroup \
        "$IMAGE" /sbin/init >/dev/null \
        || die "cannot create $name (see the docker error above)"
}

wait_for_systemd() {
    local name=$1 state="" i
    for ((i = 0; i < BOOT_WAIT; i++)); do
        state="$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)"
        case "$state" in
            running)  say "$name: systemd $state after ${i}s"; return ;;
            degraded) say "$name: systemd $state after ${i}s; failed units:"
                      docker exec "$name" systemctl --failed --no-legend --plain | sed 's/^/      /'
                      return ;;
        esac
        running "$name" || break
        sleep 1
    done
    docker logs --tail 20 "$name" >&2 || true
    die "$name: systemd did not come up within ${BOOT_WAIT}s (state: '${state:-none}'). 'docker logs $name' shows the boot; 'scripts/lab.sh down' then 'up' retries."
}

provision() {
    local playbook="${LAB_PLAYBOOK:-site.yml}" ap="$VENV/bin/ansible-playbook" inv=()
    case "$playbook" in /*) ;; *) playbook="$ROOT/$playbook" ;; esac
    [ -x "$ap" ] || die "no $ap: run 'make venv' first (Debian's /usr/bin/ansible is too old and lacks the collections)"
    [ -f "$playbook" ] || die "no playbook $playbook; the containers are up. LAB_SKIP_PROVISION=1 skips this step."
    [ -n "${LAB_INVENTORY:-}" ] && inv=(-i "$LAB_INVENTORY")
    case "${LAB_MODE:-}" in
        "") ;;
        demo|course) inv+=(-e "lab_mode=$LAB_MODE") ;;
        *) die "LAB_MODE=$LAB_MODE: use demo (everything attached) or course (exercises for students)" ;;
    esac
    export ANSIBLE_CONFIG="${ANSIBLE_CONFIG:-$ROOT/ansible.cfg}"
    export PATH="$VENV/bin:$PATH"
    say "ansible-playbook ${playbook#"$ROOT"/}"
    (cd "$ROOT" && "$ap" "${inv[@]}" "$playbook") \
        || die "provisioning failed (output above). Fix it and run 'make lab' again: the containers are kept."
}

cmd_up() {
    local start=$SECONDS h
    "$ROOT/scripts/ensure-dockerd.sh"
    "$ROOT/scripts/lab-image.sh"
    create_network
    for h in "${HOSTS[@]}"; do start_container "$h"; done
    for h in "${HOSTS[@]}"; do wait_for_systemd "$h"; done
    if [ "${LAB_SKIP_PROVISION:-0}" = 1 ]; then
        say "LAB_SKIP_PROVISION=1: not provisioning"
    else
        provision
    fi
    say "up in $((SECONDS - start))s: ${HOSTS[*]} on $NETWORK ($SUBNET). 'scripts/lab.sh shell lab-server' for a shell."
}

# ---- down / status --------------------------------------------------------------
cmd_down() {
    local h
    if ! docker info >/dev/null 2>&1; then
        say "the Docker engine is not running: nothing to remove"
        return
    fi
    for h in "${HOSTS[@]}"; do
        if exists "$h"; then
            say "removing container $h"
            docker rm -f "$h" >/dev/null
        fi
    done
    if docker network inspect "$NETWORK" >/dev/null 2>&1; then
        say "removing network $NETWORK"
        docker network rm "$NETWORK" >/dev/null
    fi
    say "down"
}

cmd_status() {
    local h state
    docker info >/dev/null 2>&1 || { say "the Docker engine is not running (scripts/ensure-dockerd.sh starts it)"; return; }
    if docker network inspect "$NETWORK" >/dev/null 2>&1; then
        say "network $NETWORK: $(docker network inspect -f '{{range .IPAM.Config}}{{.Subnet}}{{end}} MTU {{index .Options "com.docker.network.driver.mtu"}}' "$NETWORK")"
    else
        say "network $NETWORK: absent"
    fi
    for h in "${HOSTS[@]}"; do
        if running "$h"; then
            state="$(docker exec "$h" systemctl is-system-running 2>/dev/null || true)"
            say "$h: running, ip $(docker inspect -f "{{(index .NetworkSettings.Networks \"$NETWORK\").IPAddress}}" "$h" 2>/dev/null || echo '?'), systemd ${state:-?}"
        elif exists "$h"; then
            say "$h: stopped ('scripts/lab.sh up' starts it)"
        else
            say "$h: absent"
        fi
    done
}

cmd_shell() {
    local h="${1:-lab-server}"
    running "$h" || die "$h is not running: 'make lab' first"
    exec docker exec -it "$h" bash -l
}

case "${1:-}" in
    up)     cmd_up ;;
    down)   cmd_down ;;
    status) cmd_status ;;
    shell)  shift; cmd_shell "$@" ;;
    *)      echo "usage: $0 up|down|status|shell [lab-server|lab-test]" >&2; exit 2 ;;
esac
