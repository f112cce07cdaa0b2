"""`./dev bench [NAME] [ARGS]`: run one benchmark of bench/ (default: ingest).

`./dev bench all [--quick] [--write docs/benchmarks.md]` runs them all (bench/report.py).
"""

from __future__ import annotations

import runpy
import sys

NAMES = ("ingest", "timers", "e2e", "latency", "scale", "tsdb", "report", "all")


def main() -> None:
    args = sys.argv[1:]
    name = args.pop(0) if args and not args[0].startswith("-") else "ingest"
    if name not in NAMES:
        sys.exit(f"unknown benchmark {name!r}; one of: {', '.join(NAMES)}")
    module = "bench.report" if name == "all" else f"bench.{name}"
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
