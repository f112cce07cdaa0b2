"""`./dev bench [NAME] [ARGS]`: run one benchmark of bench/ (default: ingest).

`./dev bench all [--quick] [--write docs/benchmarks.md]` runs them all (bench/report.py).
Every benchmark takes `--tiny`, `--quick` or `--full` (`--size tiny|quick|full` still works
where it did); for the two that take counts instead (ingest, timers) they stand for the
counts in bench/common.py `COUNT_ARGS`.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

from bench.common import COUNT_ARGS, Size

NAMES = ("ingest", "timers", "e2e", "latency", "scale", "tsdb", "decode", "report", "all")
_SHORT = {f"--{s}": s for s in Size}


def with_sizes(name: str, args: Sequence[str]) -> list[str]:
    """`args` with each `--tiny`/`--quick`/`--full` spelled as benchmark `name` takes it."""
    out: list[str] = []
    for arg in args:
        size = _SHORT.get(arg)
        if size is None:
            out.append(arg)
        elif name in COUNT_ARGS:
            out += COUNT_ARGS[name][size]
        else:
            out += ["--size", size.value]
    return out


def main() -> None:
    args = sys.argv[1:]
    name = args.pop(0) if args and not args[0].startswith("-") else "ingest"
    if name not in NAMES:
        sys.exit(f"unknown benchmark {name!r}; one of: {', '.join(NAMES)}")
    module = "bench.report" if name == "all" else f"bench.{name}"
    sys.argv = [module, *with_sizes(name, args)]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
