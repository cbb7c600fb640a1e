"""Run every benchmark and print one table (see benchmarks/README.md)."""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

from . import ended, journal_benches, notify, people, request_rate, vs_rust

GOALS = {
    "coven-trio / trio+h11 (bare), 32 conn": ("≥", 1.0),
    "coven-trio / trio+h11 (bare), 1 conn": ("≥", 1.0),
    "coven-trio / hypercorn (trio), 32 conn": ("≥", 3.0),
    "coven-trio / hypercorn (trio), 1 conn": ("≥", 3.0),
    "coven-trio / send_all": ("≥", 0.5),
    "coven-trio / raw pipe": ("≥", 0.5),
}


def _goal(row: dict[str, Any]) -> str:
    if row["case"] in GOALS:
        op, target = GOALS[row["case"]]
        met = row["value"] >= target
        return f"{op} {target:g} {'met' if met else 'MISSED'}"
    if row["bench"] == "fan-out" and row["case"].startswith("100 "):
        return f"≥ 1,000,000 {'met' if row['value'] >= 1e6 else 'MISSED'}"
    if "goal_max" in row:
        met = row["value"] <= row["goal_max"]
        return f"≤ {row['goal_max']:g} {'met' if met else 'MISSED'}"
    if "goal_min" in row:
        met = row["value"] >= row["goal_min"]
        return f"≥ {row['goal_min']:g} {'met' if met else 'MISSED'}"
    return ""


def _value(row: dict[str, Any]) -> str:
    value = row["value"]
    text = f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    unit = row.get("unit", "x" if "ratio" in row["bench"] else "req/s")
    extra = []
    if "p50_us" in row:
        extra.append(f"p50 {row['p50_us'] / 1000:.2f} ms, p99 {row['p99_us'] / 1000:.2f} ms")
    if "mb_s" in row:
        extra.append(f"{row['mb_s']:.0f} MB/s")
    if "p50_ms" in row:
        extra.append(f"p50 {row['p50_ms']:.2f} ms")
    if "min" in row:
        extra.append(f"min-max {row['min']:,.0f}-{row['max']:,.0f}")
    return f"{text} {unit}" + (f" ({'; '.join(extra)})" if extra else "")


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| bench | case | result | goal |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['bench']} | {row['case']} | {_value(row)} | {_goal(row)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; correctness only")
    args = parser.parse_args(argv)
    start = time.monotonic()
    rows = request_rate.run(args.smoke) + journal_benches.run(args.smoke)
    rows += ended.run(args.smoke) + notify.run(args.smoke) + people.run(args.smoke)
    rows += vs_rust.run(args.smoke)
    elapsed = time.monotonic() - start
    print(table(rows))
    print(
        f"\n{platform.node()}: {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()}, {platform.system()} {platform.release()}; "
        f"{'smoke run' if args.smoke else 'full run'} in {elapsed:.0f} s"
    )
    return rows


if __name__ == "__main__":
    main()
