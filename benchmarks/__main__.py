"""`python -m benchmarks [workload ...]`: runs the workloads and prints a markdown table of
medians and ratios against numpy (`make bench`)."""

import argparse
import sys

from benchmarks.gemm import gemm_sweep
from benchmarks.harness import Table, machine_line
from benchmarks.workloads import WORKLOADS

WORKLOADS = dict(WORKLOADS, gemm_sweep=gemm_sweep)  # sgemm through the backend, 1 and 2 threads


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*",
                        help="which workloads (default: all of %s)" % ", ".join(sorted(WORKLOADS)))
    parser.add_argument("--output", help="also write the markdown table to this file")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.workloads) - set(WORKLOADS))
    if unknown:
        parser.error("unknown workload(s): %s" % ", ".join(unknown))
    table = Table()
    print("graphc benchmarks on", machine_line())
    for name in args.workloads or sorted(WORKLOADS):
        print(name, flush=True)
        WORKLOADS[name](table)
    text = table.markdown()
    print()
    print(text)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
