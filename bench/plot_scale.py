#!/usr/bin/env python3
"""Draws the scale curve (docs/bench-scale.svg) from bench/run.sh result tables.

    bench/plot_scale.py OUT.svg RESULTS.md [RESULTS.md...]

Reads every row `| tool | hosts | first | rerun | CPU first / rerun | changed | max RSS |
...` of the given files (the tables bench/run.sh appends; later rows win for the same
tool and size; rows of runs with BENCH_FORKS are used only for a size that has no
other row; only rows whose status is ok), and draws three panels against the number of hosts: wall time of the
first run, controller CPU of the first run, and the controller's peak RSS. Plain SVG,
no dependencies.
"""
import re
import sys

COLORS = {"rdeploy": "#d9480f", "pyinfra": "#1971c2", "ansible-core": "#2f9e44", "ansible": "#2f9e44",
          "openssh": "#868e96"}


def parse(paths):
    data, fallback = {}, {}
    row = re.compile(r"^\| (rdeploy|pyinfra|ansible|ansible-core|openssh) \| (\d+) \| ([\d.]+) \| ([\d.]+) \| ([\d.?]+) / ([\d.?]+) \| [^|]* \| (\d+) \|")
    for p in paths:
        skip = False  # a table run with BENCH_FORKS is not part of the curve
        for line in open(p):
            if line.startswith("## "):
                skip = False
            if line.startswith("rdeploy forks:"):
                skip = True
            m = row.match(line)
            if m and "| ok |" in line:
                tool, n = m.group(1), int(m.group(2))
                num = lambda s: float(s) if s not in ("?", "-") else None
                (fallback if skip else data)[(tool, n)] = {
                    "first": num(m.group(3)), "rerun": num(m.group(4)),
                    "cpu": num(m.group(5)), "rss": num(m.group(7))}
    for k, v in fallback.items():
        data.setdefault(k, v)
    return data


def panel(x0, y0, w, h, title, unit, series, xs):
    out = []
    ymax = max([v for s in series.values() for _, v in s if v is not None] + [1]) * 1.1
    xmax = max(xs) if xs else 1
    sx = lambda x: x0 + 50 + (w - 70) * x / xmax
    sy = lambda y: y0 + h - 30 - (h - 60) * y / ymax
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + 16}" text-anchor="middle" font-weight="bold">{title}</text>')
    out.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(xmax)}" y2="{sy(0)}" stroke="#333"/>')
    out.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(0)}" y2="{sy(ymax)}" stroke="#333"/>')
    for i in range(5):
        yv = ymax * i / 4
        out.append(f'<line x1="{sx(0)}" y1="{sy(yv):.1f}" x2="{sx(xmax)}" y2="{sy(yv):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{sx(0) - 4}" y="{sy(yv) + 4:.1f}" text-anchor="end" font-size="10">{yv:.0f}</text>')
    for x in xs:
        out.append(f'<text x="{sx(x):.1f}" y="{sy(0) + 14}" text-anchor="middle" font-size="10">{x}</text>')
    out.append(f'<text x="{sx(xmax / 2)}" y="{y0 + h - 2}" text-anchor="middle" font-size="11">hosts</text>')
    out.append(f'<text x="{x0 + 12}" y="{y0 + h / 2}" font-size="11" transform="rotate(-90 {x0 + 12} {y0 + h / 2})" text-anchor="middle">{unit}</text>')
    for tool, pts in series.items():
        pts = [(x, y) for x, y in pts if y is not None]
        if not pts:
            continue
        c = COLORS.get(tool, "#000")
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{c}" stroke-width="2"/>')
        for x, y in pts:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{c}"><title>{tool} {x} hosts: {y}</title></circle>')
    return out


def main():
    out_path, paths = sys.argv[1], sys.argv[2:]
    data = parse(paths)
    tools = [t for t in ("rdeploy", "pyinfra") if any(k[0] == t for k in data)]
    xs = sorted({n for (t, n) in data if t in tools})
    W, H = 960, 340
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    metrics = [("first", "wall time, first run", "seconds"), ("cpu", "controller CPU, first run", "CPU seconds"),
               ("rss", "controller peak RSS", "MB (largest process)")]
    for i, (key, title, unit) in enumerate(metrics):
        series = {t: [(n, data[(t, n)][key]) for n in xs if (t, n) in data] for t in tools}
        svg += panel(i * W / 3, 0, W / 3, H - 30, title, unit, series, xs)
    for j, t in enumerate(tools):
        svg.append(f'<rect x="{20 + j * 120}" y="{H - 20}" width="12" height="12" fill="{COLORS[t]}"/>')
        svg.append(f'<text x="{36 + j * 120}" y="{H - 10}">{t}</text>')
    svg.append("</svg>")
    open(out_path, "w").write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
