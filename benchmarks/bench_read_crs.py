"""Benchmark ``oda_data.read_crs`` against pandas and DuckDB on CRS bulk text files.

For each size (``--rows``, default 1,000,000 and 5,000,000) the script makes
the file with ``make_crs_files.py`` if it is not in ``benchmarks/out/`` yet,
then measures, **each step in a fresh Python process** (so that one step's
memory cannot pollute the next):

``pandas baseline``
    ``pd.read_csv(path, sep="|")`` then the same boolean filter as the query:
    ``DonorCode == 701`` and a theme among ``--themes`` (themes computed with
    the package's own vectorised rules, :func:`oda_data.crs.themes.theme_arrays`,
    on the donor's rows only -- the baseline's best case).
``read_crs first (ingest)``
    ``read_crs(path, donors=[701], themes=[...])`` on an empty cache: converts
    the text file to the Parquet cache, then answers the query.
``read_crs repeated``
    The same call again: the cache is warm.
``DuckDB on cached Parquet``
    The same query in SQL straight on the cached Parquet file (the theme rules
    turned into a ``CASE`` of ``regexp_matches``), result fetched as pandas:
    the near-limit reference.
``read_crs all rows (warm)``
    ``read_crs(path)`` without filters, for scale (no target).

Time is the wall time of the operation inside the child (after its imports);
peak memory is the child's peak resident set (``VmHWM`` of
``/proc/self/status``), imports included. Cheap steps run ``--repeat`` times
(best time, highest peak reported). All row counts must agree; a mismatch is
printed as a failure.

The table is printed and written to ``benchmarks/out/results.md``.

Usage::

    .venv/bin/python benchmarks/bench_read_crs.py                 # 1M and 5M rows
    .venv/bin/python benchmarks/bench_read_crs.py --rows 200000   # quick run
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_OUT = HERE / "out"
DEFAULT_THEMES = ("maritime_security", "counter_terrorism")
DEFAULT_DONOR = 701

# Targets of the issue, as ratios against the pandas baseline of the same run.
TARGET_FIRST_VS_BASELINE = 1.0  # first read_crs no slower than the baseline
TARGET_REPEAT_SPEEDUP = 20.0  # repeated read at least 20x faster than the baseline
TARGET_REPEAT_VS_DUCKDB = 2.0  # and within 2x of DuckDB
TARGET_REPEAT_MEMORY = 0.2  # peak memory under a fifth of the baseline's


# ----------------------------------------------------------------- child side
def _peak_rss_mb() -> float:
    """Peak resident set of this process in MB (VmHWM), imports included."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def _current_rss_mb() -> float:
    """Resident set of this process now, in MB (VmRSS)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


_RULE_PREFIX = r"(?i)(?:^|[^\pL\pN])(?P<kw>"
_RULE_SUFFIX = r")(?:$|[^\pL\pN])"


def duckdb_theme_sql(parquet: str, donor: int, themes: list[str]) -> tuple[str, list]:
    """SQL equivalent of ``read_crs(donors=[donor], themes=themes)`` on a cached Parquet file.

    The theme is the first keyword rule whose pattern matches the joined text
    (with the security-code condition where the rule is not ``anywhere``),
    else the default theme of a specific purpose code -- the order and
    patterns of :mod:`oda_data.crs.themes` (both are RE2). To give DuckDB its
    best case, one combined pattern of every keyword first drops the rows no
    rule can match (same result: a row matching some rule matches the union).
    """
    from oda_data.crs.themes import load_rules

    rules = load_rules()
    security = ", ".join(str(code) for code in sorted(rules.security_codes))
    specific = ", ".join(str(code) for code in sorted(rules.specific))
    branches, params = [], []
    for rule in rules.keyword_rules:
        condition = "regexp_matches(_text, ?)"
        params.append(rule.pattern)
        if not rule.anywhere:
            condition += f" AND purpose_code IN ({security})"
        branches.append(f"WHEN {condition} THEN '{rule.theme}'")
    for code, theme in rules.specific.items():
        branches.append(f"WHEN purpose_code = {int(code)} THEN '{theme}'")
    patterns = [rule.pattern for rule in rules.keyword_rules]
    if all(p.startswith(_RULE_PREFIX) and p.endswith(_RULE_SUFFIX) for p in patterns):
        union = _RULE_PREFIX + "|".join(p[len(_RULE_PREFIX):-len(_RULE_SUFFIX)] for p in patterns) + _RULE_SUFFIX
        prefilter = f"WHERE regexp_matches(_text, ?) OR purpose_code IN ({specific})"
        prefilter_params = [union]
    else:  # the rules changed shape: no prefilter, same result
        prefilter, prefilter_params = "", []
    wanted = ", ".join(f"'{theme}'" for theme in themes)
    sql = (
        "WITH mine AS (SELECT *, concat_ws(' \n ', coalesce(project_title, ''), "
        "coalesce(short_description, ''), coalesce(long_description, '')) AS _text "
        f"FROM read_parquet(?) WHERE donor_code = {int(donor)}), "
        f"candidates AS (SELECT * FROM mine {prefilter}), "
        "tagged AS (SELECT *, CASE " + " ".join(branches) + " END AS theme FROM candidates) "
        f"SELECT * EXCLUDE (_text) FROM tagged WHERE theme IN ({wanted})"
    )
    return sql, [parquet, *prefilter_params, *params]


def run_step(step: str, path: str, donor: int, themes: list[str]) -> dict:
    """Run one measured step in this (fresh) process; return its measures."""
    import pandas as pd

    import oda_data  # noqa: F401 -- every step pays the same imports

    if step == "duckdb":
        import duckdb
    imports_mb = _current_rss_mb()
    started = time.perf_counter()
    if step == "pandas":
        from oda_data.crs.themes import theme_arrays

        df = pd.read_csv(path, sep="|")
        mine = df[df["DonorCode"] == donor]
        theme, _ = theme_arrays(
            mine["PurposeCode"], [mine["ProjectTitle"], mine["ShortDescription"], mine["LongDescription"]]
        )
        keep = theme.to_pandas().isin(themes).to_numpy()
        result = mine[keep]
    elif step in ("read_crs_first", "read_crs_repeat"):
        result = oda_data.read_crs(path, donors=[donor], themes=list(themes))
    elif step == "read_crs_all":
        result = oda_data.read_crs(path)
    elif step == "duckdb":
        from oda_data.crs.cache import cached_path

        sql, params = duckdb_theme_sql(str(cached_path(path)), donor, themes)
        result = duckdb.connect().execute(sql, params).df()
    else:
        raise ValueError(f"unknown step {step!r}")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "peak_mb": _peak_rss_mb(), "imports_mb": imports_mb, "rows": int(len(result))}


# ---------------------------------------------------------------- parent side
STEPS = (
    ("pandas", "pandas read_csv + filter (baseline)", 1),
    ("read_crs_first", "read_crs first (ingest + query)", 1),
    ("read_crs_repeat", "read_crs repeated (warm cache)", None),
    ("duckdb", "DuckDB on cached Parquet", None),
    ("read_crs_all", "read_crs all rows (warm, no filter)", 1),
)


def measure(step: str, path: Path, cache: Path, donor: int, themes: list[str], timeout: float) -> dict:
    """Run ``step`` in a fresh interpreter with ``ODA_DATA_CACHE=cache``."""
    env = dict(os.environ, ODA_DATA_CACHE=str(cache), PYTHONHASHSEED="0")
    command = [
        sys.executable, str(Path(__file__).resolve()), "--child", step,
        "--path", str(path), "--donor", str(donor), "--themes", *themes,
    ]
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-15:]
        return {"error": f"exit {completed.returncode}: " + " / ".join(tail)}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def bench_one(rows: int, out: Path, donor: int, themes: list[str], repeat: int, timeout: float) -> dict:
    sys.path.insert(0, str(HERE))
    import make_crs_files

    path = make_crs_files.default_path(rows, out)
    if not path.exists():
        print(f"generating {path} ({rows:,} rows) ...", flush=True)
        make_crs_files.make_crs_file(path, rows)
    cache = out / f"cache_{rows}"
    shutil.rmtree(cache, ignore_errors=True)  # the first read must find a cold cache
    cache.mkdir(parents=True)
    results = {"rows": rows, "file": str(path), "file_mb": path.stat().st_size / 1e6, "steps": {}}
    for step, label, runs in STEPS:
        runs = runs or repeat
        trials = [measure(step, path, cache, donor, themes, timeout) for _ in range(runs)]
        errors = [t["error"] for t in trials if "error" in t]
        if errors:
            results["steps"][step] = {"label": label, "error": errors[0]}
        else:
            results["steps"][step] = {
                "label": label,
                "seconds": min(t["seconds"] for t in trials),
                "peak_mb": max(t["peak_mb"] for t in trials),
                "imports_mb": max(t["imports_mb"] for t in trials),
                "rows": trials[0]["rows"],
                "runs": runs,
            }
        shown = results["steps"][step]
        print(f"  {rows:>10,} {label:<40} " + (
            f"{shown['seconds']:8.2f} s {shown['peak_mb']:9.0f} MB  rows={shown['rows']:,}"
            if "error" not in shown else f"ERROR {shown['error']}"
        ), flush=True)
    return results


def _verdicts(result: dict) -> list[str]:
    steps = result["steps"]
    needed = ("pandas", "read_crs_first", "read_crs_repeat", "duckdb")
    if any("error" in steps.get(name, {"error": 1}) for name in needed):
        return ["targets not evaluated: a step failed (see the table)"]
    base, first, repeat, duck = (steps[name] for name in needed)
    lines = []

    def verdict(ok: bool) -> str:
        return "met" if ok else "**MISSED**"

    ratio = first["seconds"] / base["seconds"]
    lines.append(f"first read_crs / baseline time = {ratio:.2f} (target <= {TARGET_FIRST_VS_BASELINE:g}): "
                 f"{verdict(ratio <= TARGET_FIRST_VS_BASELINE)}")
    speedup = base["seconds"] / repeat["seconds"]
    lines.append(f"repeated read_crs speed-up over baseline = {speedup:.0f}x (target >= {TARGET_REPEAT_SPEEDUP:g}x): "
                 f"{verdict(speedup >= TARGET_REPEAT_SPEEDUP)}")
    vs_duck = repeat["seconds"] / duck["seconds"]
    lines.append(f"repeated read_crs / DuckDB time = {vs_duck:.2f} (target <= {TARGET_REPEAT_VS_DUCKDB:g}): "
                 f"{verdict(vs_duck <= TARGET_REPEAT_VS_DUCKDB)}")
    memory = repeat["peak_mb"] / base["peak_mb"]
    lines.append(f"repeated read_crs / baseline peak memory = {memory:.3f} (target < {TARGET_REPEAT_MEMORY:g}): "
                 f"{verdict(memory < TARGET_REPEAT_MEMORY)}")
    counts = {name: steps[name]["rows"] for name in needed}
    if len(set(counts.values())) != 1:
        lines.append(f"**row counts disagree**: {counts}")
    else:
        lines.append(f"all four return the same {base['rows']:,} rows")
    return lines


def render(results: list[dict], command: str, donor: int, themes: list[str]) -> str:
    """The Markdown report: machine, table, target verdicts."""
    import duckdb
    import pandas
    import pyarrow

    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [
        "# read_crs benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {cpu}, {os.cpu_count()} cores, {memory_gb:.0f} GiB RAM; Python {platform.python_version()}, "
        f"pandas {pandas.__version__}, pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}; "
        f"load average at the end {os.getloadavg()[0]:.1f} (other work on the machine skews timings)  ",
        f"Query: donors=[{donor}], themes={list(themes)}; each step in a fresh process; "
        "time = the operation (imports excluded); peak = VmHWM of the process (imports included; 'of which imports' = VmRSS before the operation).",
        "",
    ]
    for result in results:
        base = result["steps"].get("pandas", {})
        lines += [
            f"## {result['rows']:,} rows ({result['file_mb']:,.0f} MB text file)",
            "",
            "| step | time (s) | peak RSS (MB) | of which imports (MB) | rows out | time vs baseline | peak vs baseline |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for step, label, _ in STEPS:
            row = result["steps"].get(step)
            if row is None:
                continue
            if "error" in row:
                lines.append(f"| {label} | error | | | | | {row['error'][:200]} |")
                continue
            if step == "pandas":
                time_ratio, peak_ratio = "baseline", "1"
            elif "seconds" in base:
                speed = base["seconds"] / row["seconds"]
                time_ratio = f"{speed:.1f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower"
                peak_ratio = f"{row['peak_mb'] / base['peak_mb']:.3f}"
            else:
                time_ratio = peak_ratio = "n/a"
            best = f" (best of {row['runs']})" if row["runs"] > 1 else ""
            lines.append(
                f"| {label}{best} | {row['seconds']:.2f} | {row['peak_mb']:,.0f} | {row['imports_mb']:,.0f} | {row['rows']:,} | "
                f"{time_ratio} | {peak_ratio} |"
            )
        lines += ["", *[f"- {line}" for line in _verdicts(result)], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--donor", type=int, default=DEFAULT_DONOR)
    parser.add_argument("--themes", nargs="+", default=list(DEFAULT_THEMES))
    parser.add_argument("--repeat", type=int, default=3, help="runs of the cheap steps (best time kept)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per step")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_step(args.child, args.path, args.donor, args.themes)))
        return 0
    from oda_data import THEMES

    unknown = [theme for theme in args.themes if theme not in THEMES]
    if unknown:
        parser.error(f"unknown theme(s) {unknown}; expected among: {', '.join(THEMES)}")
    args.out.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/bench_read_crs.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = [
        bench_one(rows, args.out, args.donor, args.themes, args.repeat, args.timeout) for rows in args.rows
    ]
    report = render(results, command.strip(), args.donor, args.themes)
    print()
    print(report)
    target = args.out / "results.md"
    target.write_text(report + "\n", encoding="utf-8")
    print(f"\nwritten to {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
