"""`make bench` writes BENCHMARKS.md from each benchmark's JSON: its fault and scale sections, from figures
shaped as bench/faults.py and bench/scale.py hand them over, so that a change to either cannot break the
report unseen (the benchmarks themselves take minutes and run under `make bench`)."""
from __future__ import annotations

from dataclasses import asdict

from bench import run, scale


def _row(name: str, **figures) -> dict:
    row = {"scenario": name, "sends": 40, "provider calls": 40, "accepted": 40, "duplicates delivered": 0,
           "sent records": 40, "failed records": 0, "sends with 2+ sent records": 0, "lost (no record)": 0,
           "DynamoDB faults": 0, "crashes": 0, "takeovers": 0, "dead letters": 0, "seconds": 1.0}
    return {**row, **figures}


def test_importing_the_benchmarks_leaves_the_tests_environment_alone():
    """bench/run.py imports bench.faults for its table: the emulator's environment (its own table prefix,
    credentials) is set by the benchmark's `main`, never by the import, or later tests in the same worker
    would read the benchmark's tables."""
    import importlib
    import os

    before = dict(os.environ)
    importlib.reload(importlib.import_module("bench.faults"))
    importlib.reload(importlib.import_module("bench.scale"))
    assert dict(os.environ) == before


def test_the_fault_section_holds_every_row_and_judges_the_dynamodb_modes():
    rows = [_row("no fault"), _row("TransactionConflict on every 2nd outcome", **{"DynamoDB faults": 20}),
            _row("one crash after acceptance", **{"duplicates delivered": 1, "accepted": 41}),
            _row("Lambda killed at a DynamoDB write (1 in 15)", crashes=7, **{"dead letters": 2})]
    text = "\n".join(run.faults_section({"customers": 20, "rows": rows}, "python -m bench.faults --customers 20"))
    assert text.count("\n| ") == len(rows) + 1                     # the header and one line per scenario
    assert "(1 rows): met" in text                                  # the conflict row; the killed row is apart
    assert "one crash after acceptance" in text.split("Rows that deliver twice")[1]
    assert "7 invocations died; 2 messages ran out" in text

    lost = rows[:1] + [_row("TransactionConflict on every 2nd outcome", **{"DynamoDB faults": 20,
                                                                          "lost (no record)": 1})]
    assert "**missed**" in "\n".join(run.faults_section({"customers": 20, "rows": lost}, "cmd"))


def test_the_scale_section_is_the_models_report_from_its_json():
    m = scale.Measured()
    results = [scale.simulate(scale.Scenario(100_000, rate, scale.concurrency_needed(rate, m), mode), m)
               for rate in (100, 1000) for mode in ("paged", "prequeued")]
    measured = {"clean": {"customers": 200, "sends": 400, "dispatch calls per send": m.dispatch_calls_per_send,
                          "evaluation calls": {"sqs:SendMessageBatch": 4}, "items written per send": 4.0,
                          "writes per item (histogram: writes -> items)": {"1": 400},
                          scale.SHARED: {}, "hottest item": "automation_stats:x", "hottest item writes": 3,
                          "hottest item share": 0.0075, "hottest partition": "automation_stats:s",
                          "hottest partition share": 0.01, scale.PER_CUSTOMER: {}, "evaluation peak bytes": 10**6,
                          "dispatch batch peak bytes": 10**6, "duplicates delivered": 0,
                          "sends with 2+ sent records": 0, "lost (no final record)": 0, "sent records": 400,
                          "other records": {}},
                "conflicts": None}
    text = "\n".join(run.scale_section({"command": ".venv/bin/python -m bench.scale --sample 200 --json",
                                        "measured": measured, "model inputs": asdict(m),
                                        "results": [asdict(r) for r in results]}))
    assert text.startswith("## 8. Scale model")
    assert "`.venv/bin/python -m bench.scale --sample 200`" in text
    table = [line for line in text.splitlines() if line.startswith("| 1") and "evaluation" not in line]
    assert len(table) == len(results)
    assert all(f"| {r.ratio:.2f} |" in text for r in results)


def test_the_segments_section_holds_every_segment_and_each_campaigns_measured_and_modeled_rows():
    def seg(name, count):
        return {"segment": name, "read": "vip, counted", "count": count, "items_read": count, "calls": 1, "ms": 400,
                "client_cpu_ms": 2, "mb_read": 0.7, "read_units": 88}
    segments = {"customers": 100_000, "item_bytes": 351, "at": "2026-06-10T10:00:00+00:00",
                "segments": [seg("vip", 10_012), seg("new_30", 4_033)], "list": seg("GET /segments (all six)", 14_045)}
    measured = {"customers": 100_000, "item_bytes": 351, "seeding_seconds": 30.0, "campaigns": [
        {"segment": "vip (built-in, by index)", "pages": 6, "members": 10_012, "sends_queued": 20_024,
         "items_read": 30_000, "dynamodb_calls": {"Query": 6, "BatchGetItem": 201}, "seconds": 40.0,
         "client_cpu_seconds": 12.5, "page_ms_mean": 6_000, "page_ms_max": 7_000}]}
    modeled = [{"segment": "vip (built-in, by index)", "members": 1_000_000, "rate": rate, "items_read_per_member": 3.0,
                "page_seconds": 4.2, "evaluation_seconds": 2_100, "floor_seconds": int(2_000_000 / rate),
                "total_seconds": int(2_000_000 / rate) + 9, "ratio": 1.0, "concurrency": 3}
               for rate in (100.0, 1000.0)]
    campaigns = {"command": ".venv/bin/python -m bench.campaigns --customers 100000 --json",
                 "measured": measured, "modeled": modeled}
    text = "\n".join(run.segments_section(segments, ".venv/bin/python -m bench.segments --customers 100000", campaigns))
    assert "| vip | vip, counted | 10,012 |" in text and "| GET /segments (all six) |" in text
    assert "| vip (built-in, by index) | 6 | 10,012 | 20,024 | 30,000 | BatchGetItem 201, Query 6 | 40.0 s |" in text
    assert text.count("| vip (built-in, by index) | 1,000 |") == 1 and "| 20,000 s | 20,009 s |" in text
    assert "--json" not in text
