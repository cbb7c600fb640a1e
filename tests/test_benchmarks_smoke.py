"""The benchmarks' smoke mode: tiny sizes, correctness only (every request answered,
every entry delivered to every tailer, every line journaled). Never a timing threshold."""

from __future__ import annotations

from benchmarks.__main__ import main


def test_benchmarks_smoke_run_is_correct() -> None:
    rows = main(["--smoke"])
    benches = {row["bench"] for row in rows}
    assert {
        "health req/s",
        "replay",
        "fan-out",
        "ingest",
        "latency",
        "memory",
        "fairness",
        "notify",
    } <= benches
