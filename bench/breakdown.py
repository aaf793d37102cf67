#!/usr/bin/env python3
"""Per-task wall time of one rdeploy run, from its JSON events.

    bench/breakdown.py OUT.json -- RDEPLOY run PLAYBOOK -i INV ... --output json

Runs the command, stamps every event line with the controller's monotonic clock as it
arrives (rdeploy writes one event per line, line-buffered), and writes OUT.json: per
task its name, action and the seconds from its `task_start` to the next task's (or the
end of the run). A task's time so measured is the time until its last host finished:
tasks run in lockstep (strategy linear), so the times add up to the run.
"""
import json
import subprocess
import sys
import time


def main():
    out_path = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    starts = []  # (t, name, action)
    results = {}
    for raw in proc.stdout:
        t = time.monotonic() - t0
        try:
            ev = json.loads(raw)
        except ValueError:
            continue
        if ev.get("event") == "task_start":
            starts.append((t, ev.get("name", ""), ev.get("action", "")))
        elif ev.get("event") == "host_result":
            key = len(starts) - 1
            r = results.setdefault(key, {"hosts": 0, "changed": 0, "failed": 0})
            r["hosts"] += 1
            res = ev.get("result") or {}
            r["changed"] += 1 if res.get("changed") else 0
            r["failed"] += 1 if ev.get("status") in ("failed", "unreachable") else 0
    rc = proc.wait()
    end = time.monotonic() - t0
    tasks = []
    for i, (t, name, action) in enumerate(starts):
        nxt = starts[i + 1][0] if i + 1 < len(starts) else end
        tasks.append({"name": name, "action": action, "seconds": round(nxt - t, 3),
                      **results.get(i, {"hosts": 0, "changed": 0, "failed": 0})})
    json.dump({"rc": rc, "total": round(end, 3),
               "before_first_task": round(starts[0][0], 3) if starts else None,
               "tasks": tasks}, open(out_path, "w"), indent=1)
    sys.exit(rc)


if __name__ == "__main__":
    main()
