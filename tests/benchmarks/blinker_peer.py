#!/usr/bin/env python3
"""P4's peer: CKAN's `signal.send(sender, **kwargs)` on Python blinker, 10 receivers.

The same workload as P4/beacon in signal_bench.cpp: sender "package_create" and three keyword
arguments (id, name, private) to 10 receivers that each read one argument. Prints one JSON line:
{"name": "P4/blinker", "ns_per_send": <median CPU time over the repetitions>, "blinker": <version>}
(CPU time, like signal_bench's figures, which a busy machine disturbs less than wall time).
"""

import argparse
import json
import statistics
import time

import blinker

DATASET_ID = "c8a5b5b0-1e0a-4bd4-9c7f-2f8d0b5d9e11"
DATASET_NAME = "annual-report-2024"


def make_receiver():
    def receiver(sender, **kwargs):
        return kwargs["id"]
    return receiver


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=200_000, help="sends per repetition")
    parser.add_argument("--repetitions", type=int, default=5, help="timed repetitions (median kept)")
    args = parser.parse_args()

    signal = blinker.Namespace().signal("package_create")
    receivers = [make_receiver() for _ in range(10)]  # blinker holds weak references: keep them
    for receiver in receivers:
        signal.connect(receiver)
    if len(signal.receivers) != 10:
        raise SystemExit(f"expected 10 receivers, blinker has {len(signal.receivers)}")

    send = signal.send
    timings = []
    for _ in range(args.repetitions):
        start = time.process_time_ns()
        for _ in range(args.iterations):
            send("package_create", id=DATASET_ID, name=DATASET_NAME, private=False)
        timings.append((time.process_time_ns() - start) / args.iterations)
    results = send("package_create", id=DATASET_ID, name=DATASET_NAME, private=False)
    if [value for _, value in results] != [DATASET_ID] * 10:
        raise SystemExit("blinker did not call the 10 receivers with the keyword arguments")

    try:
        from importlib.metadata import version
        blinker_version = version("blinker")
    except Exception:  # pragma: no cover - the version is informative only
        blinker_version = getattr(blinker, "__version__", "unknown")
    print(json.dumps({"name": "P4/blinker", "ns_per_send": statistics.median(timings),
                      "blinker": blinker_version}))


if __name__ == "__main__":
    main()
