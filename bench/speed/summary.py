"""Summary of one bench/speed/run.sh invocation: per benchmark and thread count, the median and
range over the rounds of each side's rate, the ratio of the medians and the range of the
per-round ratios, against issue 27's targets; then the roofline (this machine's measured f32
peak, each benchmark's FLOPs per unit and achieved GFLOP/s, the fraction of peak).

    python bench/speed/summary.py target/bench-speed/<stamp>

Prints Markdown; writes summary.json beside the logs. Standard library only.
"""
import json
import pathlib
import re
import statistics
import sys

# (benchmark, metric) -> (target ratio ours/theirs, what the target is); issue 27 (equal thread
# counts) and issue 19 (MiniLM, one thread each).
TARGETS = {
    ("mlp", "step"): (1.5, "≥ 1.5x"),
    ("maml", "meta-iteration"): (25.0, "≥ 25x"),
    ("proto", "train episode"): (2.5, "≥ 2.5x"),
    ("proto", "eval episode"): (None, "—"),
    ("minilm", "batch 1"): (2.0, "≥ 2x (issue 19)"),
    ("minilm", "batch 32"): (1.0, "≥ 1x (issue 19)"),
    ("dqn", "env step"): (10.0, "≥ 10x"),
    ("ppo", "env step"): (5.0, "≥ 5x"),
}
UNITS = {
    "step": "steps/s",
    "meta-iteration": "meta-iterations/s",
    "train episode": "episodes/s",
    "eval episode": "episodes/s",
    "batch 1": "sentences/s",
    "batch 32": "sentences/s",
    "env step": "env steps/s",
}


def json_lines(text):
    """Every JSON object in the log: lines prefixed `JSON ` or lines that are one object."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("JSON "):
            line = line[5:]
        if line.startswith("{") and line.endswith("}"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def parse(bench, text):
    """{metric: (rate per second, FLOPs per unit or None)} from one side's log."""
    objs = json_lines(text)
    if bench == "mlp":
        for o in objs:
            if o.get("bench") == "mlp_784_256_128_10_step":
                return {"step": (1e6 / o["median_us"], o.get("flops"))}
    elif bench == "maml":
        for o in objs:
            if "steps_per_second" in o:
                return {"meta-iteration": (o["steps_per_second"], o.get("flops_per_step"))}
            if "ms_per_meta_iteration" in o:
                return {"meta-iteration": (1e3 / o["ms_per_meta_iteration"], None)}
    elif bench == "proto":
        out = {}
        for kind, metric in (("train", "train episode"), ("eval", "eval episode")):
            m = re.search(rf"SPEED \w+ {kind} .*?: ([0-9.]+) episodes/s(?:.*?, ([0-9.]+) GFLOP/s)?", text)
            if m:
                rate = float(m.group(1))
                flops = float(m.group(2)) * 1e9 / rate if m.group(2) else None
                out[metric] = (rate, flops)
        return out
    elif bench == "minilm":
        out = {}
        for b, rate in re.findall(r"batch +(\d+): .*?= ([0-9.]+) sentences/s", text):
            f = re.search(rf"batch +{b}: .*?([0-9.]+) MFLOP/sentence", text)
            out[f"batch {b}"] = (float(rate), float(f.group(1)) * 1e6 if f else None)
        return out
    elif bench in ("dqn", "ppo"):
        for o in objs:
            if "steps_per_second" in o:
                return {"env step": (o["steps_per_second"], o.get("flops_per_step"))}
    return {}


def peak(out):
    """{(kernel, threads): GFLOP/s} and {(n, threads): GFLOP/s} from peak.log."""
    fma, gemm = {}, {}
    p = out / "peak.log"
    if p.exists():
        for o in json_lines(p.read_text()):
            if o.get("bench") == "peak":
                # A core's rate per CPU second times the threads: what the cores give when
                # nothing else runs on them (the wall-clock rate moves with other load).
                per_cpu = o.get("gflops_per_cpu_second")
                fma[(o["kernel"], o["threads"])] = per_cpu * o["threads"] if per_cpu else o["gflops"]
            elif o.get("bench") == "gemm":
                gemm[(o["n"], o["threads"])] = o["gflops"]
    return fma, gemm


def rng(xs, fmt="{:.1f}"):
    return f"{fmt.format(min(xs))}–{fmt.format(max(xs))}" if len(xs) > 1 else fmt.format(xs[0])


def num(x):
    return f"{x:,.1f}" if x < 1e4 else f"{x:,.0f}"


def main():
    out = pathlib.Path(sys.argv[1])
    runs = {}  # (bench, metric, threads) -> {"ours": {round: (rate, flops)}, "theirs": {...}}
    failed = []
    for log in sorted(out.glob("r*-t*-*-*.log")):
        m = re.match(r"r(\d+)-t(\d+)-(\w+)-(ours|theirs)\.log", log.name)
        if not m:
            continue
        r, t, bench, who = int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)
        got = parse(bench, log.read_text(errors="replace"))
        if not got:
            failed.append(log.name)
        for metric, value in got.items():
            runs.setdefault((bench, metric, t), {"ours": {}, "theirs": {}})[who][r] = value
    fma, gemm = peak(out)
    print((out / "machine.txt").read_text() if (out / "machine.txt").exists() else "")
    print("| benchmark | threads | ours (median, range) | theirs (median, range) | ratio of medians (per-round range) | target | met |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for (bench, metric, t), sides in sorted(runs.items(), key=lambda kv: (list(TARGETS).index(kv[0][:2]) if kv[0][:2] in TARGETS else 99, kv[0][2])):
        ours = [v[0] for v in sides["ours"].values()]
        theirs = [v[0] for v in sides["theirs"].values()]
        if not ours or not theirs:
            continue
        ratio = statistics.median(ours) / statistics.median(theirs)
        per_round = [sides["ours"][r][0] / sides["theirs"][r][0] for r in sides["ours"] if r in sides["theirs"]]
        target, text = TARGETS.get((bench, metric), (None, "—"))
        met = "—" if target is None else ("**met**" if ratio >= target else "**not met**")
        unit = UNITS.get(metric, "/s")
        print(
            f"| {bench} {metric} ({unit}) | {t} | {num(statistics.median(ours))} ({rng(ours)}) | "
            f"{num(statistics.median(theirs))} ({rng(theirs)}) | **{ratio:.2f}x** ({rng(per_round, '{:.2f}')}x) | {text} | {met} |"
        )
        flops = [v[1] for v in sides["ours"].values() if v[1]]
        rows.append({
            "bench": bench, "metric": metric, "threads": t, "ours": ours, "theirs": theirs,
            "ratio": ratio, "per_round_ratios": per_round, "target": target,
            "flops_per_unit": statistics.median(flops) if flops else None,
        })
    if failed:
        print(f"\nNo figure found in: {', '.join(failed)} (see those logs).")
    print()
    if fma:
        print("Peak f32 (registers only, FMA = 2 FLOPs; per CPU second of each thread × threads): " + "; ".join(
            f"{k} at {t} thread(s) {g:.1f} GFLOP/s" for (k, t), g in sorted(fma.items())))
        if gemm:
            print("Core's own GEMM: " + "; ".join(
                f"{n}³ at {t} thread(s) {g:.1f} GFLOP/s" for (n, t), g in sorted(gemm.items())))
        print()
        print("| benchmark | threads | matrix-product FLOPs per unit (ours) | achieved GFLOP/s (ours, median) | fraction of peak at that thread count |")
        print("| --- | --- | --- | --- | --- |")
        for row in rows:
            f = row["flops_per_unit"]
            if not f:
                continue
            g = f * statistics.median(row["ours"]) / 1e9
            top = max((v for (k, t), v in fma.items() if t == row["threads"]), default=None)
            if top is None:
                top = max(v for (k, t), v in fma.items() if t == 1) * row["threads"]
            print(
                f"| {row['bench']} {row['metric']} | {row['threads']} | {f / 1e6:,.3f} M | {g:.2f} | {100 * g / top:.1f} % |"
            )
            row["gflops"] = g
            row["fraction_of_peak"] = g / top
    (out / "summary.json").write_text(json.dumps({"rows": rows, "peak": {f"{k}@{t}": g for (k, t), g in fma.items()},
                                                  "gemm": {f"{n}@{t}": g for (n, t), g in gemm.items()}}, indent=1))


if __name__ == "__main__":
    main()
