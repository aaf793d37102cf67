#!/usr/bin/env bash
# Processes one fleet host starts during a first run and a rerun of the workload.
#
#   bench/host_processes.sh RDEPLOY CONTAINER INVENTORY OUTDIR
#
# Resets the workload's state on CONTAINER, then for each run attaches
# `strace -f -e trace=execve,clone,clone3,fork,vfork` to the container's sshd (its PID 1,
# seen from the controller) and runs `RDEPLOY run bench/workload/site.yml -i INVENTORY`
# (INVENTORY must list CONTAINER's host; other hosts may be there too). Prints the
# processes created (clone/fork calls) and the programs executed (successful execve) per
# run; the traces stay in OUTDIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN=$1 C=$2 INV=$3 OUT=$4
mkdir -p "$OUT"
command -v strace >/dev/null || { echo "needs strace" >&2; exit 1; }
pid=$(docker inspect -f '{{.State.Pid}}' "$C")
docker exec "$C" sh -c 'rm -rf /opt/bench; userdel -r benchuser >/dev/null 2>&1; groupdel benchuser >/dev/null 2>&1; true'
for phase in first rerun; do
  strace -f -tt -e trace=execve,clone,clone3,fork,vfork -s 300 -p "$pid" -o "$OUT/$phase.txt" 2>/dev/null &
  sp=$!
  sleep 1
  rc=0; "$BIN" run "$ROOT/bench/workload/site.yml" -i "$INV" >"$OUT/$phase.log" 2>&1 || rc=$?
  sleep 0.5; kill "$sp"; wait "$sp" 2>/dev/null || true
  echo "$phase: rc=$rc, processes created $(grep -cE ' (clone|clone3|fork|vfork)\(' "$OUT/$phase.txt"), programs executed $(grep ' execve(' "$OUT/$phase.txt" | grep -vc ENOENT)"
done
