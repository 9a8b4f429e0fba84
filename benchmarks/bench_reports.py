"""Time a full reports build and an unchanged rebuild (issue 8: <= 1.3 x 76 s, and <= 5 s).

    .venv/bin/python benchmarks/bench_reports.py [--jobs 2] [--output DIR] [--demo]
                                                 [--snapshot [--commit REV]]

Runs ``oda-data reports build`` twice from the project root into a fresh
output folder: first with ``--force`` (every report executed, site rendered),
then again unchanged (nothing executed; the manifest and site checked). Prints
both wall-clock times. Any edit to the package between the two builds
rightly rebuilds everything (the skip key covers the package's code): with
``--snapshot`` both builds run on a copy of the last commit (``git archive
HEAD``, or ``--commit REV`` to time an older build the same way), so that
work in progress in the clone cannot change the result.
Results: benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_build(command: list[str], root: Path, env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          check=False)
    elapsed = time.perf_counter() - started
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    if done.returncode not in (0, 1):
        sys.exit(f"build failed (exit {done.returncode}):\n{done.stderr}")
    return elapsed, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--output", type=Path, default=None,
                        help="output folder (default: a new temporary folder, removed after)")
    parser.add_argument("--demo", action="store_true", help="include the CRS reports (demo data)")
    parser.add_argument("--snapshot", action="store_true",
                        help="build from a copy of the last commit (git archive HEAD)")
    parser.add_argument("--commit", default="HEAD", help="with --snapshot: the commit to copy")
    args = parser.parse_args()
    output = args.output or Path(tempfile.mkdtemp(prefix="oda-bench-reports-"))
    root, env = ROOT, dict(os.environ)
    if args.snapshot:
        root = Path(tempfile.mkdtemp(prefix="oda-bench-snapshot-"))
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.commit], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
        env["PYTHONPATH"] = str(root)  # the copy's oda_data, in the build and its kernels
    command = [sys.executable, "-m", "oda_data.cli", "reports", "build", "--output", str(output),
               "--jobs", str(args.jobs), "--no-progress"] + (["--demo"] if args.demo else [])
    try:
        full, summary = timed_build([*command, "--force"], root, env)
        print(f"full build    (--force --jobs {args.jobs}): {full:6.1f} s  [{summary}]")
        rebuild, summary = timed_build(command, root, env)
        print(f"unchanged rebuild          (--jobs {args.jobs}): {rebuild:6.1f} s  [{summary}]")
        print(f"cores: {os.cpu_count()}, load average: "
              f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    finally:
        if args.output is None:
            shutil.rmtree(output, ignore_errors=True)
        if root != ROOT:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
