#!/usr/bin/env python3
"""Runs beacon's benchmarks and their peers in one go and prints the table of ratios.

Called by scripts/bench after it has built the benchmarks (Release). Every ratio compares two
measurements taken in this same run on this same machine: signal_bench (Google Benchmark, P1-P4,
P6, P13 and P18, the repetitions interleaved at random, medians kept; P4's floor is a loop of
std::function receivers), blinker_peer.py (P4's second peer) and two compilations timed here
(P5, median CPU time). Other *_bench binaries in the build directory are run too and listed after
the table. Nothing here asserts a timing: it reports.
"""

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def run_benchmark(binary, repetitions, min_time, extra=()):
    """Runs a Google Benchmark binary; returns (context, {name: median entry})."""
    command = [str(binary), "--benchmark_format=json", f"--benchmark_min_time={min_time}",
               f"--benchmark_repetitions={repetitions}", *extra]
    if repetitions > 1:
        command.append("--benchmark_enable_random_interleaving=true")
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    runs = {}
    for entry in report["benchmarks"]:
        # "P6/beacon/iterations:1" -> "P6/beacon", "mt_send/beacon/real_time/threads:4" -> "mt_send/beacon"
        name = re.sub(r"/(iterations:\d+|real_time|threads:\d+)", "", entry.get("run_name", entry["name"]))
        if repetitions == 1 and entry.get("run_type") == "iteration":
            runs[name] = entry
        elif entry.get("aggregate_name") == "median":
            runs[name] = entry
    return report["context"], runs


def run_blinker(iterations, repetitions):
    out = subprocess.run([sys.executable, str(HERE / "blinker_peer.py"), f"--iterations={iterations}",
                          f"--repetitions={repetitions}"], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def cpu_seconds(command):
    """Runs `command`; returns the CPU time (user + system) it took, which load disturbs less than
    wall time."""
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    return usage.ru_utime + usage.ru_stime


def compile_times(compiler, flags, runs):
    """P5: median CPU seconds to compile beacon_tu.cpp and raw_tu.cpp, compiled alternately."""
    times = {"beacon": [], "raw": []}
    for _ in range(runs):
        for side, source in (("beacon", "beacon_tu.cpp"), ("raw", "raw_tu.cpp")):
            times[side].append(cpu_seconds([compiler, *flags, "-c", str(HERE / "compile_time" / source),
                                            "-o", os.devnull]))
    return {side: statistics.median(values) for side, values in times.items()}


def cmake_cache(build, key):
    match = re.search(rf"^{key}:[A-Z]+=(.*)$", (build / "CMakeCache.txt").read_text(), re.M)
    return match.group(1) if match else ""


def machine(context, compiler):
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{cpu}, {context['num_cpus']} CPUs at {context['mhz_per_cpu']} MHz, {platform.system()} "
            f"{platform.release()}; {version}; load average {load}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def ns(entry):
    """CPU time, which a busy machine disturbs less, except for multi-threaded runs (wall time)."""
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[entry["time_unit"]]
    return entry["real_time" if "real_time" in entry["name"] else "cpu_time"] * scale


def verdict(value, target, at_most):
    if target is None:
        return ""
    return "met" if (value <= target if at_most else value >= target) else "**missed**"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--build", type=Path, required=True, help="the build directory (Release)")
    parser.add_argument("--quick", action="store_true", help="one short repetition of everything")
    args = parser.parse_args()

    bench_dir = args.build / "tests" / "benchmarks"
    repetitions, min_time = (1, 0.05) if args.quick else (5, 0.3)
    context, r = run_benchmark(bench_dir / "signal_bench", repetitions, min_time)
    blinker = run_blinker(*((20_000, 1) if args.quick else (200_000, 5)))
    compiler = cmake_cache(args.build, "CMAKE_CXX_COMPILER") or "c++"
    flags = ["-std=c++17", "-O2", "-DNDEBUG", f"-I{ROOT / 'include'}"]
    compile_s = compile_times(compiler, flags, 1 if args.quick else 5)

    t = {name: ns(entry) for name, entry in r.items()}
    counter = lambda name, key: r[name][key]  # noqa: E731
    rows = []  # (id, workload, beacon, peer, ratio, target text, verdict)

    def row(pid, workload, mine, peer, ratio, target, at_most=True, unit="ns"):
        fmt = (lambda v: f"{v:,.1f} {unit}") if unit else (lambda v: f"{v:,.0f}")
        target_text = "" if target is None else (f"<= {target}" if at_most else f">= {target}")
        rows.append((pid, workload, fmt(mine), fmt(peer), f"{ratio:.2f}", target_text, verdict(ratio, target, at_most)))

    for n in (1, 10, 100):
        row("P1", f"prebuilt event to {n} any-sender receivers (vs raw Boost.Signals2)",
            t[f"P1/beacon/{n}"], t[f"P1/boost/{n}"], t[f"P1/beacon/{n}"] / t[f"P1/boost/{n}"], 1.10)
    for n in (1, 10, 100):
        row("P13", f"P1 with the signal's counters on (metrics), {n} receivers (vs P1/beacon, off)",
            t[f"P13/beacon/stats_on/{n}"], t[f"P1/beacon/{n}"], t[f"P13/beacon/stats_on/{n}"] / t[f"P1/beacon/{n}"],
            1.05 if n == 10 else None)
    for others in (0, 100):
        name = f"P2/beacon/{others}"
        row("P2", f"lazy send nobody listens to, {others} receivers bound to other senders "
            f"({counter(name, 'allocs_per_iter'):.0f} allocations; vs raw empty emission)",
            t[name], t["P2/boost/0"], t[name] / t["P2/boost/0"], 0.2)
    row("P3", "10,000 receivers bound to distinct senders, send to one (vs beacon with 1)",
        t["P3/beacon/10000"], t["P3/beacon/1"], t["P3/beacon/10000"] / t["P3/beacon/1"], 2)
    row("P3", "10,000 receivers bound to distinct senders, send to one (speed-up over raw, filter in each slot)",
        t["P3/beacon/10000"], t["P3/boost/10000"], t["P3/boost/10000"] / t["P3/beacon/10000"], 100, at_most=False)
    for variant in ("set", "init_list"):
        name, floor = f"P4/beacon/{variant}", f"P4/floor/{variant}"
        row("P4", f"CKAN-like send, event built with {variant} ({counter(name, 'allocs_per_iter'):.0f} allocations), "
            f"10 receivers (vs the same event built the same way, to 10 std::function receivers in a loop)",
            t[name], t[floor], t[name] / t[floor], 1.5)
        row("P4", f"the same send (speed-up over Python blinker {blinker['blinker']})",
            t[name], blinker["ns_per_send"], blinker["ns_per_send"] / t[name], 5, at_most=False)
    row("P11", "stamp a new event with an id and trace context: ns more than the timestamp alone (peer)",
        t["P11/beacon/stamp"], t["P11/before/stamp"], t["P11/beacon/stamp"] - t["P11/before/stamp"], 30)
    row("P11", "the same plus the signal's type and the registry's source (two strings): ns more",
        t["P11/beacon/signal_stamp"], t["P11/before/stamp"], t["P11/beacon/signal_stamp"] - t["P11/before/stamp"], None)
    row("P5", "compile a file that connects and sends (vs Boost.Signals2 + nlohmann/json directly), CPU s",
        compile_s["beacon"], compile_s["raw"], compile_s["beacon"] / compile_s["raw"], 1.25, unit="s")
    p6 = {name: counter(name, "bytes_per_connection") for name in
          ("P6/beacon", "P6/boost", "P6/beacon/bound", "P6/boost/filtered")}
    row("P6", "bytes per any-sender connection (vs raw Boost.Signals2)",
        p6["P6/beacon"], p6["P6/boost"], p6["P6/beacon"] / p6["P6/boost"], 1.2, unit="B")
    row("P6", "bytes per connection bound to a distinct sender (vs raw, sender kept in the slot)",
        p6["P6/beacon/bound"], p6["P6/boost/filtered"], p6["P6/beacon/bound"] / p6["P6/boost/filtered"], None, unit="B")
    one = t["P18/beacon/lookup/signals:1/shuffled:0"]
    for shuffled, what in ((0, "one name again and again"), (1, "every name in a shuffled order, out of cache")):
        name = f"P18/beacon/lookup/signals:100000/shuffled:{shuffled}"
        row("P18", f"find a signal among 100,000 by name, {what} (vs among 1)", t[name], one, t[name] / one,
            3 if shuffled == 0 else None)
    p18 = {name: counter(f"P18/{name}/bytes_per_signal", "bytes_per_signal") for name in ("beacon", "boost")}
    row("P18", "bytes per signal nobody connected to, with its place in the namespace (vs a raw Boost.Signals2 signal)",
        p18["beacon"], p18["boost"], p18["beacon"] / p18["boost"], None, unit="B")
    row("-", "connect + disconnect, any sender (vs raw)", t["connect_disconnect/beacon"],
        t["connect_disconnect/boost"], t["connect_disconnect/beacon"] / t["connect_disconnect/boost"], None)
    row("-", "connect + disconnect, bound to a sender (vs raw, any sender)", t["connect_disconnect/beacon/bound"],
        t["connect_disconnect/boost"], t["connect_disconnect/beacon/bound"] / t["connect_disconnect/boost"], None)
    row("-", "4 threads sending to 10 receivers, wall time per send (vs raw)",
        t["mt_send/beacon"], t["mt_send/boost"], t["mt_send/beacon"] / t["mt_send/boost"], None)

    print(f"Machine: {machine(context, compiler)}")
    print(f"Runs: signal_bench {repetitions} repetition(s) of >= {min_time} s, interleaved, medians of CPU time; "
          f"blinker {blinker['blinker']} on Python {platform.python_version()}; "
          f"P5 compiled with {' '.join(flags[:3])}, median CPU time of {1 if args.quick else 5}\n")
    print("| target | workload | beacon | peer | ratio | target | verdict |")
    print("|---|---|---:|---:|---:|---|---|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")

    # The other benchmarks: Google Benchmark binaries get a table of medians; the others (such as
    # redis_bench, which prints its own table) are run as they are.
    others = sorted(p for p in bench_dir.glob("*_bench") if p.name != "signal_bench" and os.access(p, os.X_OK))
    for binary in others:
        print(f"\n{binary.name}:\n")
        try:
            _, results = run_benchmark(binary, repetitions, min_time)
        except (subprocess.CalledProcessError, json.JSONDecodeError):
            print(subprocess.run([str(binary)], check=True, capture_output=True, text=True).stdout)
            continue
        print("| benchmark | time |\n|---|---:|")
        for name, entry in results.items():
            print(f"| {name} | {ns(entry):,.1f} ns |")


if __name__ == "__main__":
    main()
