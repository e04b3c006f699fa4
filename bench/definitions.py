"""How long ``import orchestration.definitions`` takes in a fresh interpreter (what every Dagster process,
step worker and ``crm`` command pays at start), and which heavy libraries it pulls in (none should be:
great_expectations, weasyprint, optbinning and matplotlib are imported inside the functions that use them).

    .venv/bin/python bench/definitions.py [--repeat 5]

Each repetition is a new ``python -c`` process (a warm file cache after the first); prints every time, the
best and the median, in seconds. The target is about 2 s on the development machine (2 cores); the unit
suite does not assert on it (timings depend on the machine and its load), only on the heavy libraries
(tests/orchestration/test_definitions.py).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

HEAVY = ("great_expectations", "weasyprint", "optbinning", "matplotlib")
CODE = (
    "import time, sys; t = time.perf_counter(); import orchestration.definitions; "
    "print(time.perf_counter() - t); "
    f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    times = []
    for i in range(args.repeat):
        out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
        seconds, heavy = out.split("\n")[:2]
        times.append(float(seconds))
        print(f"run {i + 1}: {float(seconds):.2f} s" + (f"  heavy libraries imported: {heavy}" if heavy else ""))
    print(f"best {min(times):.2f} s, median {statistics.median(times):.2f} s over {len(times)} runs")


if __name__ == "__main__":
    main()
