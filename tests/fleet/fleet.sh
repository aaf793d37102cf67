#!/usr/bin/env bash
# rdeploy test fleet: Docker containers running OpenSSH, reachable only through
# 127.0.0.1 published ports, plus a moto (fake AWS) server and the peer tools
# (ansible-core, pyinfra) used by the benchmark.
#
# Usage: tests/fleet/fleet.sh SUBCOMMAND [ARGS] [SUBCOMMAND [ARGS]...]
#   docker        ensure docker.io is installed and a dockerd answers
#   image         build rdeploy-fleet:<recipe-hash> (skipped when it exists)
#   up N [--docker]
#                 start N containers rdeploy-node1..N (or rdeploy-dnode1..N with
#                 --docker: able to run a Docker engine inside) and write
#                 target/fleet/{id_ed25519,known_hosts,inventory.ini,hosts.json}
#                 (target/fleet/dnodes/... for --docker)
#   check [N]     ssh into the first N hosts of the last `up` (default: all)
#                 with strict host key checking; check the deploy/deploypw users
#   down          remove all rdeploy-node*/rdeploy-dnode* containers (keeps the image)
#   moto          ensure moto_server listens on 127.0.0.1:5055
#   peers         ensure /opt/rdeploy-peers (Python 3.12 venv: ansible-core, pyinfra)
#   all N         docker + image + up N + moto
# Several subcommands can be chained: `fleet.sh docker image moto`.
#
# Everything is idempotent; every wait loop is bounded in count and time.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
FLEET_DIR="$REPO_ROOT/target/fleet"
KEY="$FLEET_DIR/id_ed25519"
# RDEPLOY_FLEET_PREFIX names the containers and the network (default rdeploy:
# rdeploy-node1.., rdeploy-net), so that a second checkout can run its own fleet
# beside this one.
FLEET_PREFIX="${RDEPLOY_FLEET_PREFIX:-rdeploy}"
NET=$FLEET_PREFIX-net
# The docker-capable hosts (`up N --docker`) live on their own network with fixed
# addresses, so that what depends on addresses (nginx's hash of the client address,
# upstream lists) is the same on every run. Containers only: never routed from the host.
STACK_NET=rdeploy-stack
STACK_SUBNET=10.199.5.0/24
STACK_IP_PREFIX=10.199.5.
# ports of the docker-capable hosts published on 127.0.0.1 besides ssh (nginx, the
# realtime app's web console, api, client status)
STACK_PORTS="80 8000 8080 8081"
IMAGE_REPO=rdeploy-fleet
MOTO_PORT="${RDEPLOY_MOTO_PORT:-5055}"
MOTO_VENV=/opt/rdeploy-moto
PEERS_VENV=/opt/rdeploy-peers
DOCKERD_LOG=/tmp/rdeploy-dockerd.log
MOTO_LOG=/tmp/rdeploy-moto.log
UP_JOBS="${RDEPLOY_FLEET_JOBS:-8}"   # parallel docker run / docker exec jobs

log() { printf '[fleet %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Image recipe. Its exact text is hashed into the image tag: any change here
# builds a new image. Runs on the host with ROOT (target dir) and MIRROR set.
# ---------------------------------------------------------------------------
read -r -d '' IMAGE_RECIPE <<'RECIPE' || true
debootstrap --variant=minbase \
  --include=openssh-server,sudo,python3,iproute2,procps,ca-certificates \
  bookworm "$ROOT" "$MIRROR"
# ed25519/ecdsa host keys are made per container at start (ssh-keygen -A makes
# only the missing ones, in milliseconds). The RSA host key made here is shared by
# all containers: generating RSA-3072 costs ~1 CPU-second per container.
rm -f "$ROOT"/etc/ssh/ssh_host_ed25519_key* "$ROOT"/etc/ssh/ssh_host_ecdsa_key*
test -f "$ROOT"/etc/ssh/ssh_host_rsa_key || ssh-keygen -q -t rsa -b 3072 -N '' -f "$ROOT"/etc/ssh/ssh_host_rsa_key
cat > "$ROOT"/etc/ssh/sshd_config.d/rdeploy.conf <<'EOF'
MaxSessions 50
MaxStartups 200
UseDNS no
PermitRootLogin prohibit-password
EOF
chroot "$ROOT" useradd -m -s /bin/bash deploy
chroot "$ROOT" useradd -m -s /bin/bash deploypw
echo 'deploypw:deploypw-secret' | chroot "$ROOT" chpasswd
echo 'deploy ALL=(ALL) NOPASSWD:ALL' > "$ROOT"/etc/sudoers.d/deploy
echo 'deploypw ALL=(ALL) ALL' > "$ROOT"/etc/sudoers.d/deploypw
chmod 0440 "$ROOT"/etc/sudoers.d/deploy "$ROOT"/etc/sudoers.d/deploypw
for h in root home/deploy home/deploypw; do
  install -d -m 0700 "$ROOT/$h/.ssh"
done
chroot "$ROOT" chown deploy:deploy /home/deploy/.ssh
chroot "$ROOT" chown deploypw:deploypw /home/deploypw/.ssh
chroot "$ROOT" apt-get clean
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin
RECIPE

IMAGE_HASH="$(printf '%s' "$IMAGE_RECIPE" | sha256sum | cut -c1-12)"
IMAGE="$IMAGE_REPO:$IMAGE_HASH"

SSHD_CMD='mkdir -p /run/sshd && ssh-keygen -A && exec /usr/sbin/sshd -D -e'

# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
APT_UPDATED=0
apt_install() { # apt_install PKG... (only the missing ones)
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ "$APT_UPDATED" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

with_lock() { # with_lock NAME CMD... : serialize concurrent callers (bounded wait)
  local name=$1; shift
  mkdir -p "$FLEET_DIR"
  (
    flock -w 900 9 || die "timed out waiting for lock $name"
    "$@"
  ) 9>"$FLEET_DIR/.$name.lock"
}

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

port_listening() { # port_listening PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# ---------------------------------------------------------------------------
# docker
# ---------------------------------------------------------------------------
cmd_docker() {
  if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    apt_install docker.io
  fi
  if docker info >/dev/null 2>&1; then return 0; fi
  if ! pgrep -x dockerd >/dev/null 2>&1; then
    log "starting dockerd (log: $DOCKERD_LOG)"
    setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
  else
    log "dockerd is running but not answering yet; waiting"
  fi
  local i
  for i in $(seq 1 120); do   # at most ~60 s
    if docker info >/dev/null 2>&1; then log "dockerd ready after ~$((i / 2)) s"; return 0; fi
    sleep 0.5
  done
  tail -n 30 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not answer within 60 s"
}

# ---------------------------------------------------------------------------
# image
# ---------------------------------------------------------------------------
cmd_image() {
  cmd_docker
  with_lock image image_locked
}

image_locked() {
  if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
    apt_install debootstrap
    command -v ssh-keygen >/dev/null 2>&1 || apt_install openssh-client
    local mirror root t0
    mirror="$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    [ -n "$mirror" ] || mirror="$(awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
    [ -n "$mirror" ] || die "no Debian mirror found in the apt sources"
    root="$(mktemp -d /var/tmp/rdeploy-fleet-root.XXXXXX)"
    # shellcheck disable=SC2064
    trap "rm -rf '$root'" EXIT
    log "building $IMAGE with debootstrap from $mirror (about 1 min)"
    t0=$(date +%s)
    ROOT="$root" MIRROR="$mirror" bash -euo pipefail -c "$IMAGE_RECIPE" >"$FLEET_DIR/image-build.log" 2>&1 \
      || { tail -n 40 "$FLEET_DIR/image-build.log" >&2; die "image recipe failed (log: $FLEET_DIR/image-build.log)"; }
    tar -C "$root" -c . | docker import -m "rdeploy fleet $IMAGE_HASH" - "$IMAGE" >/dev/null
    rm -rf "$root"
    trap - EXIT
    log "built $IMAGE in $(( $(date +%s) - t0 )) s"
  fi
  local want have
  want="$(docker image inspect -f '{{.Id}}' "$IMAGE")"
  have="$(docker image inspect -f '{{.Id}}' "$IMAGE_REPO:latest" 2>/dev/null || true)"
  [ "$want" = "$have" ] || docker tag "$IMAGE" "$IMAGE_REPO:latest"
}

# ---------------------------------------------------------------------------
# up
# ---------------------------------------------------------------------------
ensure_key() {
  mkdir -p "$FLEET_DIR"
  if [ ! -f "$KEY" ] || [ ! -f "$KEY.pub" ]; then
    rm -f "$KEY" "$KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C rdeploy-fleet -f "$KEY"
  fi
  chmod 600 "$KEY"
}

# start_one NAME HOSTNAME DOCKER_MODE
start_one() {
  local name=$1 host=$2 dmode=$3 state
  state="$(docker inspect -f '{{.Config.Image}} {{.State.Running}}' "$name" 2>/dev/null || true)"
  if [ "$state" = "$IMAGE true" ]; then return 0; fi
  if [ -n "$state" ]; then docker rm -f "$name" >/dev/null 2>&1 || true; fi
  local extra=(--network "$NET") p
  if [ "$dmode" = 1 ]; then
    extra=(--network "$STACK_NET" --ip "$STACK_IP_PREFIX$((10 + ${host#dnode}))"
      --cap-add ALL --cap-drop SYS_RESOURCE
      --security-opt seccomp=unconfined --security-opt apparmor=unconfined
      --tmpfs /var/lib/docker:exec
      # cgroup v1 machines: the inner engine makes its containers' cgroups (the
      # machine's hierarchy, writable; container ids keep them apart)
      $( [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ] || echo "-v /sys/fs/cgroup:/sys/fs/cgroup:rw" ))
    for p in $STACK_PORTS; do extra+=(-p "127.0.0.1::$p"); done
  fi
  docker run -d --name "$name" --hostname "$host" \
    --label rdeploy-fleet=1 -p 127.0.0.1::22 "${extra[@]}" \
    "$IMAGE" sh -c "$SSHD_CMD" >/dev/null
}

# stack_extra CONTAINER I: the JSON members a docker-capable host adds to hosts.json
# (its fixed address and its other published ports)
stack_extra() {
  local c=$1 i=$2 p hp sep="" out
  out=", \"ip\": \"$STACK_IP_PREFIX$((10 + i))\", \"ports\": {"
  for p in $STACK_PORTS; do
    hp="$(docker port "$c" "$p/tcp" | grep '^127\.0\.0\.1:' | head -n 1)"
    out+="$sep\"$p\": ${hp#127.0.0.1:}"
    sep=", "
  done
  printf '%s}' "$out"
}

# install the controller key for root, deploy and deploypw
install_key() {
  local name=$1
  docker exec -i "$name" sh -c '
    set -e
    k=$(cat)
    for u in root deploy deploypw; do
      h=$(getent passwd "$u" | cut -d: -f6)
      mkdir -p "$h/.ssh"
      printf "%s\n" "$k" > "$h/.ssh/authorized_keys"
      chmod 700 "$h/.ssh"; chmod 600 "$h/.ssh/authorized_keys"
      chown -R "$u:" "$h/.ssh"
    done' <"$KEY.pub"
}

# scan_one PORT OUTFILE: wait until sshd answers (at most 60 tries, ~45 s), save its keys
scan_one() {
  local port=$1 out=$2 scan _
  for _ in $(seq 1 60); do
    scan="$(ssh-keyscan -T 3 -p "$port" 127.0.0.1 2>/dev/null | grep -v '^#' || true)"
    if [ -n "$scan" ]; then printf '%s\n' "$scan" >"$out.tmp" && mv -f "$out.tmp" "$out"; return 0; fi
    sleep 0.5
  done
  log "no answer from sshd on 127.0.0.1:$port"
  return 1
}

# run "FUNC ARG..." lines from stdin with at most UP_JOBS in parallel; fail if any failed
run_parallel() {
  local line running=0 failed=0
  while IFS= read -r line; do
    # shellcheck disable=SC2086
    ( $line ) &
    running=$((running + 1))
    if [ "$running" -ge "$UP_JOBS" ]; then
      wait -n || failed=$((failed + 1))
      running=$((running - 1))
    fi
  done
  while [ "$running" -gt 0 ]; do
    wait -n || failed=$((failed + 1))
    running=$((running - 1))
  done
  [ "$failed" -eq 0 ] || die "$failed parallel job(s) failed"
}

cmd_up() {
  local n=$1 dmode=$2
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 500 ] || die "up: N must be 1..500 (got '$n')"
  command -v ssh-keyscan >/dev/null 2>&1 || apt_install openssh-client
  cmd_docker
  cmd_image
  with_lock up up_locked "$n" "$dmode"
}

up_locked() {
  local n=$1 dmode=$2 prefix hprefix outdir group t0 i
  if [ "$dmode" = 1 ]; then prefix=$FLEET_PREFIX-dnode; hprefix=dnode; outdir="$FLEET_DIR/dnodes"; group=dfleet
  else prefix=$FLEET_PREFIX-node; hprefix=node; outdir="$FLEET_DIR"; group=fleet; fi
  mkdir -p "$outdir"
  ensure_key
  docker network inspect "$NET" >/dev/null 2>&1 || docker network create "$NET" >/dev/null
  docker network inspect "$STACK_NET" >/dev/null 2>&1 \
    || docker network create --subnet "$STACK_SUBNET" "$STACK_NET" >/dev/null
  t0=$(date +%s.%N)
  for i in $(seq 1 "$n"); do echo "start_one $prefix$i $hprefix$i $dmode"; done | run_parallel
  for i in $(seq 1 "$n"); do echo "install_key $prefix$i"; done | run_parallel
  # The first docker-capable host has no Python at all (shell and coreutils only):
  # nothing rdeploy does may need it.
  if [ "$dmode" = 1 ]; then
    docker exec "${prefix}1" sh -c 'rm -rf /usr/bin/python3* /usr/lib/python3* /usr/local/lib/python3*'
    # Debian's /etc/init.d/docker runs `ulimit -n 1048576` under `set -e`: above this
    # machine's hard limit, and a container without CAP_SYS_RESOURCE cannot raise it.
    # The script sources /etc/default/docker first (a conffile apt keeps): there the
    # fleet, not the product, keeps the limits it has.
    for i in $(seq 1 "$n"); do
      docker exec "$prefix$i" sh -c '[ -f /etc/default/docker ] || printf "%s\n" \
        "# rdeploy test fleet: keep the container limits (see tests/fleet/fleet.sh)" \
        "ulimit() { command ulimit \"\$@\" 2>/dev/null || true; }" > /etc/default/docker'
    done
  fi
  log "$n containers running, keys installed ($(since "$t0") s)"

  # ports + host keys (wait until every sshd answers; bounded). Keys of a reused
  # container are taken from a cache keyed by container id and port.
  local -a ports ids
  local name id hp cache="$outdir/.hostkeys"
  mkdir -p "$cache"
  while read -r name id hp; do
    i="${name#/"$prefix"}"
    ids[i]="$id"
    ports[i]="${hp#127.0.0.1:}"
  done < <(docker inspect -f '{{.Name}} {{.Id}}{{range (index .NetworkSettings.Ports "22/tcp")}} {{.HostIp}}:{{.HostPort}}{{end}}' \
             $(for i in $(seq 1 "$n"); do echo "$prefix$i"; done) | awk '{for (f=3; f<=NF; f++) if ($f ~ /^127\.0\.0\.1:/) {print $1, $2, $f; break}}')
  for i in $(seq 1 "$n"); do
    [[ "${ports[i]:-}" =~ ^[0-9]+$ ]] || die "no 127.0.0.1 port published for $prefix$i"
  done
  local kh_tmp
  kh_tmp="$(mktemp "$outdir/.known_hosts.XXXXXX")"
  for i in $(seq 1 "$n"); do
    [ -s "$cache/${ids[i]}-${ports[i]}" ] || echo "scan_one ${ports[i]} $cache/${ids[i]}-${ports[i]}"
  done | run_parallel || { rm -f "$kh_tmp"; die "sshd did not answer ssh-keyscan on every host"; }
  for i in $(seq 1 "$n"); do cat "$cache/${ids[i]}-${ports[i]}"; done >"$kh_tmp"
  # forget keys of containers that no longer exist
  local live f
  live="$(docker ps -aq --no-trunc)"
  for f in "$cache"/*; do
    [ -e "$f" ] || continue
    f="${f##*/}"
    grep -qx "${f%-*}" <<<"$live" || rm -f "$cache/$f"
  done
  mv -f "$kh_tmp" "$outdir/known_hosts"

  # inventory.ini and hosts.json (written atomically)
  local inv_tmp json_tmp sep=""
  inv_tmp="$(mktemp "$outdir/.inventory.XXXXXX")"
  json_tmp="$(mktemp "$outdir/.hosts.XXXXXX")"
  {
    echo "# written by tests/fleet/fleet.sh up $n$([ "$dmode" = 1 ] && echo ' --docker') — $(date -u +%FT%TZ)"
    echo "[$group]"
    for i in $(seq 1 "$n"); do
      echo "$hprefix$i ansible_host=127.0.0.1 ansible_port=${ports[i]} ansible_user=root"
    done
    echo
    echo "[$group:vars]"
    echo "ansible_ssh_private_key_file=$KEY"
    echo "ansible_ssh_common_args='-o UserKnownHostsFile=$outdir/known_hosts -o StrictHostKeyChecking=yes'"
  } >"$inv_tmp"
  {
    echo "["
    for i in $(seq 1 "$n"); do
      printf '%s  {"name": "%s%s", "port": %s, "container": "%s%s"%s}' "$sep" "$hprefix" "$i" "${ports[i]}" "$prefix" "$i" \
        "$([ "$dmode" = 1 ] && stack_extra "$prefix$i" "$i")"
      sep=$',\n'
    done
    printf '\n]\n'
  } >"$json_tmp"
  chmod 644 "$inv_tmp" "$json_tmp" "$outdir/known_hosts"
  mv -f "$inv_tmp" "$outdir/inventory.ini"
  mv -f "$json_tmp" "$outdir/hosts.json"
  log "up $n done in $(since "$t0") s: $outdir/inventory.ini"
}

# ---------------------------------------------------------------------------
# check: strict ssh into the hosts of the last `up`
# ---------------------------------------------------------------------------
cmd_check() {
  local limit=${1:-0} outdir="$FLEET_DIR"
  [ -f "$outdir/hosts.json" ] || die "no $outdir/hosts.json: run 'up N' first"
  local ssh_opts=(-n -o BatchMode=yes -o UserKnownHostsFile="$outdir/known_hosts" -o StrictHostKeyChecking=yes
    -o ConnectTimeout=10 -i "$KEY")
  local name port count=0 bad=0
  while read -r name port; do
    count=$((count + 1))
    [ "$limit" -gt 0 ] && [ "$count" -gt "$limit" ] && break
    if ! ssh "${ssh_opts[@]}" -p "$port" root@127.0.0.1 true; then log "$name: root ssh FAILED"; bad=$((bad + 1)); continue; fi
    if ! ssh "${ssh_opts[@]}" -p "$port" deploy@127.0.0.1 'sudo -n true'; then log "$name: deploy sudo -n FAILED"; bad=$((bad + 1)); fi
    if ssh "${ssh_opts[@]}" -p "$port" deploypw@127.0.0.1 'sudo -n true' 2>/dev/null; then
      log "$name: deploypw sudo -n unexpectedly worked"; bad=$((bad + 1)); fi
    if ! ssh "${ssh_opts[@]}" -p "$port" deploypw@127.0.0.1 'echo deploypw-secret | sudo -S -p "" true'; then
      log "$name: deploypw sudo -S FAILED"; bad=$((bad + 1)); fi
  done < <(sed -n 's/.*"name": "\([^"]*\)", "port": \([0-9]*\).*/\1 \2/p' "$outdir/hosts.json")
  [ "$bad" -eq 0 ] || die "check: $bad failure(s)"
  log "check: OK"
}

# ---------------------------------------------------------------------------
# down
# ---------------------------------------------------------------------------
cmd_down() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1 || { log "no docker engine: nothing to remove"; return 0; }
  local names
  names="$(docker ps -a --format '{{.Names}}' | grep -E "^$FLEET_PREFIX-d?node[0-9]+\$" || true)"
  if [ -n "$names" ]; then
    # shellcheck disable=SC2086
    docker rm -f $names >/dev/null
    log "removed $(echo "$names" | wc -l) container(s)"
  fi
}

# ---------------------------------------------------------------------------
# moto
# ---------------------------------------------------------------------------
moto_answers() {
  curl -fsS -m 3 -o /dev/null "http://127.0.0.1:$MOTO_PORT/moto-api/" 2>/dev/null
}

cmd_moto() {
  command -v curl >/dev/null 2>&1 || apt_install curl
  if [ ! -x "$MOTO_VENV/bin/moto_server" ]; then
    if [ -x /opt/moto-venv/bin/moto_server ] && /opt/moto-venv/bin/python -c 'import moto.server' 2>/dev/null; then
      log "reusing /opt/moto-venv for $MOTO_VENV"
      ln -sfn /opt/moto-venv "$MOTO_VENV"
    else
      log "creating $MOTO_VENV with moto[server]"
      local py=/usr/bin/python3
      "$py" -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
      rm -rf "$MOTO_VENV"
      "$py" -m venv "$MOTO_VENV"
      "$MOTO_VENV/bin/pip" install -q --disable-pip-version-check 'moto[server]' >&2
    fi
  fi
  if moto_answers; then return 0; fi
  if ! port_listening "$MOTO_PORT"; then
    log "starting moto_server on 127.0.0.1:$MOTO_PORT (log: $MOTO_LOG)"
    setsid nohup "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >>"$MOTO_LOG" 2>&1 </dev/null &
  fi
  local i
  for i in $(seq 1 60); do   # at most ~30 s (+ curl time)
    if moto_answers; then log "moto ready on 127.0.0.1:$MOTO_PORT"; return 0; fi
    sleep 0.5
  done
  tail -n 20 "$MOTO_LOG" >&2 || true
  die "moto_server did not answer on 127.0.0.1:$MOTO_PORT"
}

# ---------------------------------------------------------------------------
# peers
# ---------------------------------------------------------------------------
cmd_peers() {
  if [ -x "$PEERS_VENV/bin/ansible-playbook" ] && [ -x "$PEERS_VENV/bin/pyinfra" ]; then return 0; fi
  local proot py
  if command -v pyenv >/dev/null 2>&1; then proot="$(pyenv root)"; else proot="${PYENV_ROOT:-$HOME/.pyenv}"; fi
  py="$(ls -d "$proot"/versions/3.12.*/bin/python3 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$py" ] && [ -x "$py" ] || die "no Python 3.12 under $proot/versions (ansible-core 2.20+ needs >= 3.12)"
  log "creating $PEERS_VENV with $py: ansible-core, pyinfra"
  [ -x "$PEERS_VENV/bin/pip" ] || "$py" -m venv "$PEERS_VENV"
  "$PEERS_VENV/bin/pip" install -q --disable-pip-version-check ansible-core pyinfra >&2
  "$PEERS_VENV/bin/ansible-playbook" --version | head -n 1 >&2
  "$PEERS_VENV/bin/pyinfra" --version >&2
}

# ---------------------------------------------------------------------------
main() {
  [ $# -gt 0 ] || { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
  while [ $# -gt 0 ]; do
    case "$1" in
      docker) cmd_docker; shift ;;
      image) cmd_image; shift ;;
      up)
        [ $# -ge 2 ] || die "usage: up N [--docker]"
        if [ "${3:-}" = "--docker" ]; then cmd_up "$2" 1; shift 3; else cmd_up "$2" 0; shift 2; fi ;;
      check)
        if [[ "${2:-}" =~ ^[0-9]+$ ]]; then cmd_check "$2"; shift 2; else cmd_check 0; shift; fi ;;
      down) cmd_down; shift ;;
      moto) cmd_moto; shift ;;
      peers) cmd_peers; shift ;;
      all)
        [ $# -ge 2 ] || die "usage: all N"
        cmd_docker; cmd_image; cmd_up "$2" 0; cmd_moto; shift 2 ;;
      image-tag) echo "$IMAGE"; shift ;;
      -h|--help|help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown subcommand '$1' (see --help)" ;;
    esac
  done
}

main "$@"
