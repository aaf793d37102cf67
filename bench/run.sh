#!/usr/bin/env bash
# Peer benchmark: rdeploy vs ansible-playbook vs pyinfra on the same container fleet.
#
#   bench/run.sh [SIZES...]          default sizes: 20 50 (at most 500)
#
# For each size: `tests/fleet/fleet.sh up SIZE`, then for each tool: reset the hosts,
# time a first run and a rerun of the 20-task workload (bench/workload/), record the
# controller's peak memory and CPU, check the hosts' state. `openssh` is the floor: one
# ControlMaster per host, then 20 trivial `ssh -S` commands over it, all hosts at once.
# Prints a table and appends it to bench/results-<date>.md.
#
# Environment:
#   BENCH_TOOLS="openssh rdeploy ansible pyinfra"   tools to run, in this order
#   BENCH_FORKS=N        rdeploy's -f (default: the number of hosts); `default` = no -f
#   BENCH_DOWN=1         take the fleet down after each size (0: leave it up)
#   BENCH_BUILD=1        cargo build --release before the runs (0: use the existing binary)
#   BENCH_TIMEOUT=1800   seconds allowed for one run of one tool
#   BENCH_RESULTS=FILE   where to append the markdown results (default bench/results-<date>.md)
#   BENCH_RDEPLOY=PATH   rdeploy binary (default target/release/rdeploy)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FLEET="$ROOT/tests/fleet/fleet.sh"
FLEET_DIR="$ROOT/target/fleet"
PLAYBOOK="$ROOT/bench/workload/site.yml"
PYDEPLOY="$ROOT/bench/workload/pyinfra_deploy.py"
PEERS=/opt/rdeploy-peers
RDEPLOY="${BENCH_RDEPLOY:-$ROOT/target/release/rdeploy}"
TOOLS="${BENCH_TOOLS:-openssh rdeploy ansible pyinfra}"
FORKS="${BENCH_FORKS:-}"
DOWN="${BENCH_DOWN:-1}"
BUILD="${BENCH_BUILD:-1}"
RUN_TIMEOUT="${BENCH_TIMEOUT:-1800}"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/results-$(date +%F).md}"
if [ $# -gt 0 ]; then SIZES=("$@"); else SIZES=(20 50); fi

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
for s in "${SIZES[@]}"; do [[ "$s" =~ ^[0-9]+$ ]] && [ "$s" -ge 1 ] && [ "$s" -le 500 ] || die "bad size '$s' (1-500)"; done

WORK="$(mktemp -d /tmp/rdeploy-bench.XXXXXX)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "work dir: $WORK (logs of every run)"

# --- prerequisites --------------------------------------------------------
if [ ! -x /usr/bin/time ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time
fi
"$FLEET" docker image peers

RDEPLOY_OK=1
if [[ " $TOOLS " == *" rdeploy "* ]]; then
  if [ "$BUILD" = 1 ]; then
    log "cargo build --release"
    if ! cargo build --release >"$WORK/cargo-build.log" 2>&1; then
      tail -n 20 "$WORK/cargo-build.log" >&2
      log "rdeploy: release build failed (log: $WORK/cargo-build.log)"
      RDEPLOY_OK=0
    fi
  fi
  if [ ! -x "$RDEPLOY" ]; then
    log "rdeploy: no binary at $RDEPLOY"
    RDEPLOY_OK=0
  fi
fi

version_of() {
  case "$1" in
    rdeploy) { [ -x "$RDEPLOY" ] && "$RDEPLOY" --version 2>/dev/null | head -n 1; } || echo "rdeploy (no binary)" ;;
    ansible) "$PEERS/bin/ansible-playbook" --version | head -n 1 ;;
    pyinfra) "$PEERS/bin/pyinfra" --version | head -n 1 ;;
    openssh) ssh -V 2>&1 | head -n 1 ;;
  esac
}

# --- per-size setup -------------------------------------------------------
# The fleet files of a size are copied into the work dir right after `up`: another
# `fleet.sh up N` (a test run, say) rewrites target/fleet/ and must not change the hosts
# under measurement.
snapshot_fleet() { # SIZE
  local d="$WORK/size-$1"
  mkdir -p "$d"
  cp "$FLEET_DIR/inventory.ini" "$FLEET_DIR/known_hosts" "$FLEET_DIR/hosts.json" "$d/"
  sed -i "s|$FLEET_DIR/known_hosts|$d/known_hosts|g" "$d/inventory.ini"
  INV="$d/inventory.ini"; KH="$d/known_hosts"; HOSTS_JSON="$d/hosts.json"
  [ "$(grep -c '"container"' "$HOSTS_JSON")" = "$1" ] || die "fleet files do not list $1 hosts"
}
containers() { sed -n 's/.*"container": "\([^"]*\)".*/\1/p' "$HOSTS_JSON"; }

reset_hosts() { # remove everything the workload creates
  containers | xargs -P 8 -I{} docker exec {} sh -c \
    'rm -rf /opt/bench; userdel -r benchuser >/dev/null 2>&1 || true; groupdel benchuser >/dev/null 2>&1 || true'
}

verify_hosts() { # every host has the workload's end state
  local bad
  bad="$(containers | xargs -P 8 -I{} docker exec {} sh -c '
      test -d /opt/bench/data/cache && test -f /opt/bench/data/seed.txt &&
      grep -q "^node = " /opt/bench/conf/node.conf && grep -qx "workers = 4" /opt/bench/conf/env.conf &&
      grep -qx "feature_x = on" /opt/bench/conf/env.conf && test -L /opt/bench/current.conf &&
      [ "$(stat -c %U:%a /opt/bench/shared)" = benchuser:770 ] && [ "$(stat -c %a /opt/bench/conf/limits.conf)" = 640 ] &&
      id benchuser >/dev/null 2>&1 || echo "{}"' 2>&1 || true)"
  if [ -n "$bad" ]; then log "state check failed on: $(echo "$bad" | tr '\n' ' ')"; return 1; fi
}

write_configs() { # SIZE
  local size=$1 d="$WORK/size-$1"
  mkdir -p "$d"
  cat >"$d/ansible.cfg" <<EOF
[defaults]
inventory = $INV
forks = $size
host_key_checking = True
gathering = explicit
interpreter_python = /usr/bin/python3
retry_files_enabled = False
timeout = 30

[ssh_connection]
pipelining = True
ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=$KH -o StrictHostKeyChecking=yes
EOF
  write_floor "$size"
  python3 - "$HOSTS_JSON" "$FLEET_DIR/id_ed25519" "$KH" >"$d/pyinfra_inventory.py" <<'EOF'
import json, sys
hosts = json.load(open(sys.argv[1]))
key, known_hosts = sys.argv[2], sys.argv[3]
print("# generated by bench/run.sh from target/fleet/hosts.json")
print("fleet = [")
for h in hosts:
    data = {
        "ssh_hostname": "127.0.0.1",
        "ssh_port": h["port"],
        "ssh_user": "root",
        "ssh_key": key,
        "ssh_known_hosts_file": known_hosts,
        "ssh_strict_host_key_checking": "yes",
        "ssh_allow_agent": False,
        "ssh_look_for_keys": False,
    }
    print(f"    ({h['name']!r}, {data!r}),")
print("]")
EOF
}

# The OpenSSH floor: per host one ControlMaster (key auth, strict host key checking,
# as the tools), then 20 trivial commands over it one after the other; all hosts at
# once. What no tool that runs 20 tasks as 20 remote commands over SSH can beat.
write_floor() { # SIZE
  local d="$WORK/size-$1"
  mkdir -p "$d/cm"
  python3 -c 'import json, sys; [print(h["port"]) for h in json.load(open(sys.argv[1]))]' "$HOSTS_JSON" >"$d/floor-hosts.txt"
  cat >"$d/floor.sh" <<EOF
#!/usr/bin/env bash
# generated by bench/run.sh: the OpenSSH floor on $1 hosts
one() {
  local port=\$1 i
  local o=(-o ControlPath="$d/cm/\$1" -o BatchMode=yes -o UserKnownHostsFile=$KH -o StrictHostKeyChecking=yes
           -o IdentitiesOnly=yes -i $FLEET_DIR/id_ed25519 -p "\$port")
  ssh "\${o[@]}" -o ControlMaster=yes -o ControlPersist=600 -fN root@127.0.0.1 || { echo "master \$port failed"; return 1; }
  for i in \$(seq 1 20); do ssh "\${o[@]}" -o ControlMaster=no root@127.0.0.1 true || { echo "cmd \$port failed"; return 1; }; done
  ssh "\${o[@]}" -O exit root@127.0.0.1 2>/dev/null
  echo "ok \$port"
}
pids=()
while read -r port; do one "\$port" & pids+=(\$!); done <"$d/floor-hosts.txt"
rc=0; for p in "\${pids[@]}"; do wait "\$p" || rc=1; done
exit \$rc
EOF
  chmod +x "$d/floor.sh"
}

# tree_pss PID: summed PSS (kB) of PID and all its descendants. PSS splits shared
# pages between the processes sharing them, so forked workers are not counted twice.
tree_pss() {
  local pids
  pids="$({ ps -eo pid=,ppid= 2>/dev/null || true; } | awk -v root="$1" '
    { par[$1] = $2 }
    END {
      for (p in par) {
        q = p
        for (n = 0; n < 64 && q != "" && q > 1; n++) { if (q == root) { print p; break }; q = par[q] }
      }
    }')"
  [ -n "$pids" ] || { echo 0; return 0; }
  # shellcheck disable=SC2046
  { cat $(printf '/proc/%s/smaps_rollup ' $pids) 2>/dev/null || true; } | awk '/^Pss:/{s += $2} END {print s + 0}'
}

# --- one timed run --------------------------------------------------------
# timed_run NAME CWD CMD... ; sets RUN_SECS RUN_RC RUN_MAXRSS_MB RUN_TREE_MB RUN_LOG
timed_run() {
  local name=$1 cwd=$2; shift 2
  RUN_LOG="$WORK/$name.log"
  local tfile="$WORK/$name.time" t0 t1 pid peak=0 cur _ max_samples
  t0=$(date +%s.%N)
  (cd "$cwd" && exec /usr/bin/time -v -o "$tfile" timeout "$RUN_TIMEOUT" "$@") >"$RUN_LOG" 2>&1 </dev/null &
  pid=$!
  max_samples=$(( RUN_TIMEOUT * 4 + 400 ))
  for _ in $(seq 1 "$max_samples"); do   # bounded: the run itself is bounded by timeout
    kill -0 "$pid" 2>/dev/null || break
    cur="$(tree_pss "$pid")"
    [ "$cur" -gt "$peak" ] && peak=$cur
    sleep 0.25
  done
  RUN_RC=0
  wait "$pid" || RUN_RC=$?
  t1=$(date +%s.%N)
  RUN_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
  RUN_MAXRSS_MB=$(awk -F': ' '/Maximum resident set size/{printf "%.0f", $2/1024}' "$tfile" 2>/dev/null || true)
  RUN_CPU=$(awk -F': ' '/User time|System time/{s += $2} END {printf "%.1f", s}' "$tfile" 2>/dev/null || true)
  [ -n "$RUN_CPU" ] || RUN_CPU="?"
  RUN_TREE_MB=$(awk -v k="$peak" 'BEGIN{printf "%.0f", k/1024}')
  [ -n "$RUN_MAXRSS_MB" ] || RUN_MAXRSS_MB="?"
}

# changed count of a run, from the tool's output ("-" when unknown).
# ansible/rdeploy: sum of changed= in the PLAY RECAP. pyinfra: operations that ran
# ("Success" column of the results' Grand total; "No Change" ones did nothing).
changed_of() { # TOOL LOG
  case "$1" in
    rdeploy|ansible)
      awk '/PLAY RECAP/{r=1} r && /changed=/{for (f=1; f<=NF; f++) if ($f ~ /^changed=/) {split($f, a, "="); s += a[2]; n++}} END {if (n) print s; else print "-"}' "$2" ;;
    pyinfra)
      awk '/^ *Grand total/{v = ($4 == "-") ? 0 : $4} END {if (v != "") print v; else print "-"}' "$2" ;;
    openssh) echo "-" ;;
  esac
}

run_ok() { # TOOL LOG SIZE: every host reported, none failed or unreachable
  case "$1" in
    rdeploy|ansible)
      awk -v want="$3" '/PLAY RECAP/{r=1; next} r && /ok=/ {n++; for (f=1; f<=NF; f++) if ($f ~ /^(failed|unreachable)=/) {split($f, a, "="); bad += a[2]}} END {exit !(n == want && bad == 0)}' "$2" ;;
    pyinfra)
      awk '/^ *Grand total/{g=1; if ($5 != "-" && $5 != 0) bad=1} END {exit !(g && !bad)}' "$2" ;;
    openssh) [ "$(grep -c '^ok ' "$2")" = "$3" ] ;;
  esac
}

# --- main loop --------------------------------------------------------------
ROWS=()   # "tool|hosts|first|rerun|rerun_changed|maxrss|tree|status|cpu_first|cpu_rerun"
for size in "${SIZES[@]}"; do
  log "=== $size hosts ==="
  "$FLEET" up "$size"
  snapshot_fleet "$size"
  write_configs "$size"
  for tool in $TOOLS; do
    case "$tool" in
      rdeploy)
        if [ "$RDEPLOY_OK" != 1 ]; then log "rdeploy: failed (no binary)"; ROWS+=("rdeploy|$size|-|-|-|-|-|failed (no binary)"); continue; fi
        f=(-f "$size"); [ -n "$FORKS" ] && f=(-f "$FORKS"); [ "$FORKS" = default ] && f=()
        cmd=("$RDEPLOY" run "$PLAYBOOK" -i "$INV" "${f[@]}" --known-hosts "$KH"); cwd="$ROOT" ;;
      openssh)
        cmd=("$WORK/size-$size/floor.sh"); cwd="$WORK/size-$size" ;;
      ansible)
        cmd=(env ANSIBLE_CONFIG="$WORK/size-$size/ansible.cfg" ANSIBLE_FORCE_COLOR=0 ANSIBLE_NOCOLOR=1
             "$PEERS/bin/ansible-playbook" "$PLAYBOOK" -i "$INV" -f "$size"); cwd="$WORK/size-$size" ;;
      pyinfra)
        cmd=("$PEERS/bin/pyinfra" "$WORK/size-$size/pyinfra_inventory.py" "$PYDEPLOY" -y --parallel "$size"); cwd="$WORK/size-$size" ;;
      *) die "unknown tool '$tool'" ;;
    esac
    if [ "$tool" != openssh ]; then log "$tool: resetting $size hosts"; reset_hosts; fi
    status=ok; first="-"; rerun="-"; rchanged="-"; rss="-"; tree="-"; cpu1="-"; cpu2="-"
    for phase in first rerun; do
      # a fresh ssh ControlPath dir per run: no connection is reused across runs
      export ANSIBLE_SSH_CONTROL_PATH_DIR="$WORK/cp-$tool-$size-$phase"
      log "$tool: $phase run on $size hosts"
      timed_run "$tool-$size-$phase" "$cwd" "${cmd[@]}"
      log "$tool: $phase run: ${RUN_SECS} s, rc=$RUN_RC, CPU ${RUN_CPU} s, max RSS ${RUN_MAXRSS_MB} MB (process tree PSS ${RUN_TREE_MB} MB), load $(cut -d' ' -f1 /proc/loadavg), log $RUN_LOG"
      if [ "$RUN_RC" != 0 ]; then
        status="failed ($phase run rc=$RUN_RC)"; tail -n 15 "$RUN_LOG" >&2; break
      fi
      if ! run_ok "$tool" "$RUN_LOG" "$size"; then
        status="failed ($phase run: errors in output)"; break
      fi
      if [ "$phase" = first ]; then
        first=$RUN_SECS; rss=$RUN_MAXRSS_MB; tree=$RUN_TREE_MB; cpu1=$RUN_CPU
        [ "$tool" = openssh ] || verify_hosts || { status="failed (host state after first run)"; break; }
      else
        rerun=$RUN_SECS; cpu2=$RUN_CPU
        [ "$RUN_MAXRSS_MB" != "?" ] && [ "$RUN_MAXRSS_MB" -gt "$rss" ] && rss=$RUN_MAXRSS_MB
        [ "$RUN_TREE_MB" -gt "$tree" ] && tree=$RUN_TREE_MB
        rchanged="$(changed_of "$tool" "$RUN_LOG")"
        # pyinfra always runs its 2 server.shell steps (19-20): those are expected
        [ "$tool" = pyinfra ] && [ "$rchanged" = $((2 * size)) ] && rchanged="$rchanged (shell only)"
        [ "$tool" = openssh ] || verify_hosts || status="failed (host state after rerun)"
      fi
    done
    [ "$tool" = rdeploy ] && [ "$status" != ok ] && log "rdeploy: failed"
    ROWS+=("$tool|$size|$first|$rerun|$rchanged|$rss|$tree|$status|$cpu1|$cpu2")
  done
  if [ "$DOWN" = 1 ]; then log "taking the $size-host fleet down"; "$FLEET" down >/dev/null 2>&1 || true; fi
done

# --- report -----------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.1fx", a/b; else printf "n/a" }'; }
field() { echo "$1" | cut -d'|' -f"$2"; }

{
  echo
  echo "## $(date -u '+%F %H:%M UTC') — sizes: ${SIZES[*]}"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg); repo $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')."
  for tool in $TOOLS; do echo "- $tool: $(version_of "$tool")"; done
  echo
  [ -n "$FORKS" ] && echo "rdeploy forks: $FORKS (BENCH_FORKS)" && echo
  echo "| tool | hosts | first run (s) | rerun (s) | controller CPU first / rerun (s) | rerun changed | max RSS (MB, largest process) | peak PSS (MB, whole process tree) | status |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  for r in "${ROWS[@]}"; do
    echo "| $(field "$r" 1) | $(field "$r" 2) | $(field "$r" 3) | $(field "$r" 4) | $(field "$r" 9) / $(field "$r" 10) | $(field "$r" 5) | $(field "$r" 6) | $(field "$r" 7) | $(field "$r" 8) |"
  done
  echo
  echo "| hosts | ansible/rdeploy first | ansible/rdeploy rerun | pyinfra/rdeploy first | pyinfra/rdeploy rerun | rdeploy first / OpenSSH floor |"
  echo "|---:|---:|---:|---:|---:|---:|"
  for size in "${SIZES[@]}"; do
    rf=-; rr=-; af=-; ar=-; pf=-; pr=-; of=-
    for r in "${ROWS[@]}"; do
      [ "$(field "$r" 2)" = "$size" ] || continue
      case "$(field "$r" 1)" in
        rdeploy) rf=$(field "$r" 3); rr=$(field "$r" 4) ;;
        ansible) af=$(field "$r" 3); ar=$(field "$r" 4) ;;
        pyinfra) pf=$(field "$r" 3); pr=$(field "$r" 4) ;;
        openssh) of=$(field "$r" 3) ;;
      esac
    done
    echo "| $size | $(ratio "$af" "$rf") | $(ratio "$ar" "$rr") | $(ratio "$pf" "$rf") | $(ratio "$pr" "$rr") | $(ratio "$rf" "$of") |"
  done
  echo
  echo "rerun changed: sum of changed= over the PLAY RECAP (rdeploy, ansible; 0 = idempotent)."
  echo "For pyinfra: operations that ran on the rerun; \"(shell only)\" = only its 2 \`server.shell\`"
  echo "steps per host (19-20), which always run, like the playbook's \`changed_when: false\` commands."
  echo "openssh: the floor (one ControlMaster per host, then 20 \`ssh -S HOST true\` one after the other, all hosts at once); its \"rerun\" is a second measurement of the same."
} >"$WORK/results.md"

cat "$WORK/results.md"
if [ ! -f "$RESULTS" ]; then echo "# rdeploy peer benchmark results (bench/run.sh)" >"$RESULTS"; fi
cat "$WORK/results.md" >>"$RESULTS"
log "results appended to $RESULTS; run logs in $WORK"
