#!/usr/bin/env bash
# Per-task-type breakdown of rdeploy runs on one fleet size, for one or more binaries.
#
#   bench/breakdown.sh SIZE LABEL=BINARY [LABEL=BINARY...]
#
# Brings up SIZE hosts (tests/fleet/fleet.sh, RDEPLOY_FLEET_PREFIX honoured), then for each
# binary: resets the hosts, runs the workload (bench/workload/site.yml) first and rerun,
# then bench/workload/apt.yml (an installed package: no mirror needed), each through
# bench/breakdown.py (per-task time from the JSON events). Prints a markdown table per
# task and per action, and appends it to BENCH_RESULTS (default bench/results-<date>.md).
# Takes the fleet down at the end unless BENCH_DOWN=0. BENCH_FORKS as in bench/run.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FLEET="$ROOT/tests/fleet/fleet.sh"
RESULTS="${BENCH_RESULTS:-$ROOT/bench/results-$(date +%F).md}"
SIZE=$1; shift
[[ "$SIZE" =~ ^[0-9]+$ ]] || { echo "usage: $0 SIZE LABEL=BINARY..." >&2; exit 2; }
WORK="$(mktemp -d /tmp/rdeploy-breakdown.XXXXXX)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log() { printf '[breakdown %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

"$FLEET" up "$SIZE" >&2
cp "$ROOT/target/fleet/inventory.ini" "$ROOT/target/fleet/known_hosts" "$ROOT/target/fleet/hosts.json" "$WORK/"
sed -i "s|$ROOT/target/fleet/known_hosts|$WORK/known_hosts|g" "$WORK/inventory.ini"
containers() { sed -n 's/.*"container": "\([^"]*\)".*/\1/p' "$WORK/hosts.json"; }
reset_hosts() {
  containers | xargs -P 8 -I{} docker exec {} sh -c \
    'rm -rf /opt/bench; userdel -r benchuser >/dev/null 2>&1 || true; groupdel benchuser >/dev/null 2>&1 || true'
}
FORKS="${BENCH_FORKS:-$SIZE}"
LABELS=()
for spec in "$@"; do
  label=${spec%%=*}; bin=${spec#*=}
  LABELS+=("$label")
  log "$label ($bin): reset"
  reset_hosts
  for phase in first rerun; do
    log "$label: $phase run (load $(cut -d' ' -f1 /proc/loadavg))"
    "$ROOT/bench/breakdown.py" "$WORK/$label-$phase.json" -- "$bin" run bench/workload/site.yml \
      -i "$WORK/inventory.ini" -f "$FORKS" --known-hosts "$WORK/known_hosts" --output json
  done
  log "$label: apt"
  "$ROOT/bench/breakdown.py" "$WORK/$label-apt.json" -- "$bin" run bench/workload/apt.yml \
    -i "$WORK/inventory.ini" -f "$FORKS" --known-hosts "$WORK/known_hosts" --output json
done
[ "${BENCH_DOWN:-1}" = 1 ] && "$FLEET" down >/dev/null 2>&1 || true

python3 - "$WORK" "$SIZE" "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(git rev-parse --short HEAD)" "${LABELS[@]}" >"$WORK/results.md" <<'PY'
import json, sys
work, size, load0, load1, rev, labels = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
runs = {(l, p): json.load(open(f"{work}/{l}-{p}.json")) for l in labels for p in ("first", "rerun", "apt")}
print(f"\n## Per-task breakdown, {size} hosts (bench/breakdown.sh), repo {rev}, load {load0} -> {load1}\n")
hdr = " | ".join(f"{l} first (s) | {l} rerun (s)" for l in labels)
print(f"| # | task | action | {hdr} |")
print("|---:|---|---|" + "---:|---:|" * len(labels))
base = runs[(labels[0], "first")]["tasks"] + runs[(labels[0], "apt")]["tasks"]
def task(l, p, i):
    t = runs[(l, p)]["tasks"]
    return t[i] if i < len(t) else None
for i, t in enumerate(base):
    cells = []
    for l in labels:
        if i < len(runs[(labels[0], "first")]["tasks"]):
            a, b = task(l, "first", i), task(l, "rerun", i)
            cells += [f"{a['seconds']:.2f}" if a else "-", f"{b['seconds']:.2f}" if b else "-"]
        else:
            a = task(l, "apt", i - len(runs[(labels[0], "first")]["tasks"]))
            cells += [f"{a['seconds']:.2f}" if a else "-", "-"]
    print(f"| {i + 1} | {t['name']} | {t['action']} | " + " | ".join(cells) + " |")
tot = []
for l in labels:
    tot += [f"{runs[(l, 'first')]['total']:.2f}", f"{runs[(l, 'rerun')]['total']:.2f}"]
print("| | whole run (connections included) | | " + " | ".join(tot) + " |")
print()
acts = []
for t in base:
    if t["action"] not in acts:
        acts.append(t["action"])
print(f"| action (sum over its tasks) | tasks | {hdr} |")
print("|---|---:|" + "---:|---:|" * len(labels))
for a in acts:
    cells = []
    n = 0
    for l in labels:
        s1 = sum(t["seconds"] for t in runs[(l, "first")]["tasks"] if t["action"] == a) + \
             sum(t["seconds"] for t in runs[(l, "apt")]["tasks"] if t["action"] == a)
        s2 = sum(t["seconds"] for t in runs[(l, "rerun")]["tasks"] if t["action"] == a) + \
             sum(t["seconds"] for t in runs[(l, "apt")]["tasks"] if t["action"] == a)
        n = sum(1 for t in base if t["action"] == a)
        cells += [f"{s1:.2f}", f"{s2:.2f}"]
    print(f"| {a} | {n} | " + " | ".join(cells) + " |")
print("\nThe first task of a run includes the SSH connections (handshake, key auth, persistent shell start). "
      "The apt row is one run of bench/workload/apt.yml (installed package, no mirror), shown in both columns.")
PY
cat "$WORK/results.md"
[ -f "$RESULTS" ] || echo "# rdeploy peer benchmark results (bench/run.sh)" >"$RESULTS"
cat "$WORK/results.md" >>"$RESULTS"
log "appended to $RESULTS; work dir $WORK"
