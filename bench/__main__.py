"""`python -m bench` lists the benchmarks; `python -m bench NAME [options]`
runs one, `--smoke` among the options with the smallest parameters (to see
that it runs, not to measure). Run it from the repository root with the
project's virtualenv, `.venv/bin/python -m bench ...`, which makes the
project importable. The exit status is the benchmark's: 1 when a target is
missed or a check fails."""

import importlib
import sys

# Each is a module of this package with a main(argv) returning the exit
# status, a SMOKE list of arguments, and a docstring whose first line says
# what it measures and its target.
BENCHMARKS = ("approvals_list", "audit_append", "charts_render", "charts_analytics", "ingest", "load_mix", "faults", "fills", "poll", "loop",
              "reconcile", "approval_order", "subscribers", "analytics_fill", "analytics_summary", "sse", "webhooks")


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: .venv/bin/python -m bench NAME [--smoke] [options]   (from the repository root)\n")
        for name in BENCHMARKS:
            print(f"  {name:<15} {benchmark(name).__doc__.splitlines()[0]}")
        print("\n`python -m bench NAME --help` gives its options; --smoke runs it with the smallest parameters"
              "\n(to see that it runs, not to measure). bench/README.md has every target and the last figures.")
        return 0
    name, args = argv[0], argv[1:]
    if name not in BENCHMARKS:
        sys.exit(f"unknown benchmark {name!r}; `python -m bench` lists them")
    module = benchmark(name)
    if "--smoke" in args:
        args.remove("--smoke")
        args = [*module.SMOKE, *args]
    return module.main(args)


def benchmark(name):
    return importlib.import_module(f"bench.{name}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
