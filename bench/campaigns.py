"""A campaign's evaluation at 100,000 customers in the emulator, and the scale model's time for 1,000,000.

    .venv/bin/python -m bench.campaigns [--customers 100000] [--model-customers 1000000] [--rates 100,1000]
                                        [--scale-measured FILE] [--json]

MEASURED, on the real code against the emulator (moto in server mode over HTTP, `bench.emulator`): the
synthetic store of `bench.segments` (a tenth VIP, 85 % consenting to email, contacts for most), two
campaigns on email and SMS, created and scheduled through the services as the API does, started by the
one-minute planner (`runner.campaigns.plan`) and paged by its page jobs (`runner.campaigns.evaluate`) to the
end, every send handed to a counting queue:

- `vip`: the built-in VIP segment, read by its sparse index;
- `points_reachable`: a store's own segment with no indexed condition (1,000 points or more and consent
  to email), which reads the tenant's whole partition, projected, once over all the pages.

For each: pages, members, sends queued, items DynamoDB read (segment reads and the ledger's batch reads) and
calls, wall time in the emulator, CPU time of this thread (botocore's parsing, PynamoDB, the filter, the
sends; the part that does not depend on the emulator), and per page.

MODELED, for `--model-customers` members at the SES rates (`bench.scale.simulate`): the dispatch side from
a `bench.scale` measurement (run with `--save`, passed with `--scale-measured`; without one, bench.scale
measures a 2,000-customer send first), the evaluation side from this one: a chain of page jobs, each
reading its share of the base (items read per member, measured, in 1 MB query pages), its own CPU time per
member (measured here), the ledger's batch reads and the queueing (packed sends, 10 messages a call).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from datetime import timedelta

from bench.segments import AT, TENANT

SEGMENTS = {
    "vip": None,
    "points_reachable": {"points_min": 1000, "consent_email": True},
}
#: The emulator sorts a whole partition for every query page, which takes more than botocore's 60 s read
#: timeout at 100,000 customers on a busy machine; DynamoDB answers a page in milliseconds.
EMULATOR_READ_TIMEOUT_SECONDS = 900
CHANNELS = ["email", "sms"]


class CountingQueue:
    """The send queue, counting what it is handed (bodies pack up to ten sends)."""

    def __init__(self) -> None:
        self.messages = self.sends = self.calls = 0

    def send(self, bodies, delay_seconds: int = 0) -> None:
        from chalicelib.sending.messages import unpack

        bodies = list(bodies)
        self.calls += math.ceil(len(bodies) / 10)
        self.messages += len(bodies)
        self.sends += sum(len(unpack(body)) for body in bodies)


class JobQueue:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, bodies, delay_seconds: int = 0) -> None:
        self.bodies.extend(bodies)


def run_campaign(segment_id: str, conditions: dict | None) -> dict:
    from bench.emulator import metered
    from chalicelib.adapters.repository import DynamoRepository
    from chalicelib.rules.auth import Principal
    from chalicelib.runner import campaigns as runner
    from chalicelib.services import campaigns, segments

    owner = Principal(TENANT, "owner", "bench")
    label = segment_id + (" (built-in, by index)" if conditions is None else f" (own segment {conditions}, no index)")
    created_at = AT - timedelta(hours=1)
    if conditions is not None:
        segment_id = segments.create(owner, {"name": segment_id, "filter": conditions}, created_at,
                                     DynamoRepository())["segment_id"]
    campaign = campaigns.create(owner, {"name": f"bench {segment_id}", "segment_id": segment_id,
                                        "channels": CHANNELS}, created_at)
    start = AT.replace(second=0)
    campaigns.schedule(owner, campaign["campaign_id"], {"at": start.isoformat()}, created_at)

    jobs, sends = JobQueue(), CountingQueue()
    pages = members = 0
    per_page_ms: list[float] = []
    with metered() as meter:
        cpu = time.thread_time()
        runner.plan(start, jobs)
        while jobs.bodies:
            job = runner.CampaignJob.parse(jobs.bodies.pop(0))
            if job.tenant_id != TENANT:
                continue
            began = time.perf_counter()
            page = runner.evaluate(job, DynamoRepository(), sends, now=start)
            per_page_ms.append((time.perf_counter() - began) * 1000)
            pages += 1
            members += page.members
            if page.continuation is not None:
                jobs.send([page.continuation.to_body()])
        cpu = time.thread_time() - cpu
    dynamodb = {op: n for (service, op), n in meter.calls.items() if service == "dynamodb"}
    return {"segment": label, "segment_id": segment_id, "channels": CHANNELS, "pages": pages, "members": members,
            "sends_queued": sends.sends, "messages": sends.messages, "send_batches": sends.calls,
            "items_read": meter.items_read, "dynamodb_calls": dynamodb,
            "seconds": round(meter.seconds, 1), "client_cpu_seconds": round(cpu, 1),
            "page_ms_max": round(max(per_page_ms)) if per_page_ms else 0,
            "page_ms_mean": round(sum(per_page_ms) / len(per_page_ms)) if per_page_ms else 0}


def measure(customers: int) -> dict:
    from bench.segments import seed
    from chalicelib.adapters.models import Customer

    Customer.Meta.read_timeout_seconds = EMULATOR_READ_TIMEOUT_SECONDS
    Customer._connection = None

    started = time.perf_counter()
    item_bytes = seed(customers)
    seeding = round(time.perf_counter() - started, 1)
    rows = [run_campaign(segment_id, conditions) for segment_id, conditions in SEGMENTS.items()]
    return {"customers": customers, "item_bytes": round(item_bytes), "seeding_seconds": seeding, "campaigns": rows}


def model(run: dict, m, model_customers: int, rates: list[float]) -> list[dict]:
    """The scale model's time for a campaign of `model_customers` members, per measured campaign and rate;
    `m`: the dispatch side's `bench.scale.Measured`."""
    from bench import scale
    from chalicelib.runner.campaigns import PAGE_SIZE

    out = []
    for row in run["campaigns"]:
        if not row["members"]:
            continue
        channels = row["sends_queued"] / row["members"]
        items_per_member = row["items_read"] / row["members"]
        own_per_member = row["client_cpu_seconds"] / row["members"]
        per_page = min(model_customers, PAGE_SIZE)
        sends = per_page * channels
        query_pages = math.ceil(per_page * items_per_member * run["item_bytes"] / scale.QUERY_PAGE_BYTES)
        ev = scale.Evaluation(
            pages=math.ceil(model_customers / PAGE_SIZE), page_customers=per_page, channels=round(channels),
            query_seconds=query_pages * scale.DYNAMODB_QUERY_PAGE_SECONDS, own_seconds=per_page * own_per_member,
            ledger_read_seconds=math.ceil(sends / scale.LEDGER_BATCH_GET_KEYS) * scale.DYNAMODB_BATCH_GET_SECONDS,
            enqueue_seconds=math.ceil(sends / m.sends_per_message / scale.QUEUE_BATCH) * scale.SQS_SEND_BATCH_SECONDS,
            peak_mb=per_page * m.evaluation_peak_bytes_per_customer / 2**20, sends_per_message=m.sends_per_message)
        for rate in rates:
            concurrency = scale.concurrency_needed(rate, m)
            result = scale.simulate(scale.Scenario(model_customers, rate, concurrency, "paged"), m, evaluation=ev)
            out.append({"segment": row["segment"], "members": model_customers, "rate": rate,
                        "items_read_per_member": round(items_per_member, 2),
                        "page_seconds": round(ev.page_seconds, 1), "evaluation_seconds": round(ev.seconds),
                        "floor_seconds": round(result.floor_seconds), "total_seconds": round(result.total_seconds),
                        "ratio": round(result.ratio, 2), "concurrency": concurrency,
                        "result": asdict(result)})
    return out


def report(argv: list[str], run: dict, modeled: list[dict]) -> str:
    lines = [f"`{' '.join(['.venv/bin/python', '-m', 'bench.campaigns', *argv])}`", "",
             f"Measured: {run['customers']:,} customers ({run['item_bytes']} bytes each), seeded in "
             f"{run['seeding_seconds']} s; campaigns on {' + '.join(CHANNELS)}, every page run to the end.", "",
             "| campaign segment | pages | members | sends queued | items read | DynamoDB calls | time in the emulator "
             "| client CPU | per page (mean / max) |", "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in run["campaigns"]:
        calls = ", ".join(f"{op} {n}" for op, n in sorted(r["dynamodb_calls"].items()))
        lines.append(f"| {r['segment']} | {r['pages']} | {r['members']:,} | {r['sends_queued']:,} | {r['items_read']:,} "
                     f"| {calls} | {r['seconds']} s | {r['client_cpu_seconds']} s "
                     f"| {r['page_ms_mean']:,} / {r['page_ms_max']:,} ms |")
    lines += ["", f"Modeled ({modeled[0]['members']:,} members; dispatch from `bench.scale`'s measurement):" if modeled
              else "", "", "| campaign segment | rate/s | items read per member | a page | evaluation in all "
              "| dispatch concurrency | floor N/rate | total | total/floor |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in modeled:
        lines.append(f"| {r['segment']} | {r['rate']:,.0f} | {r['items_read_per_member']} | {r['page_seconds']} s "
                     f"| {r['evaluation_seconds']:,} s | {r['concurrency']} | {r['floor_seconds']:,} s "
                     f"| {r['total_seconds']:,} s | {r['ratio']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--model-customers", type=int, default=1_000_000)
    parser.add_argument("--rates", default="100,1000")
    parser.add_argument("--scale-measured", metavar="FILE", help="a bench.scale measurement saved with --save")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.scale_measured:
        with open(args.scale_measured) as f:
            scale_run = json.load(f)
    else:
        from bench import scale
        scale_run = scale.measure(2000, 0)
    from bench import emulator

    server = emulator.start()
    try:
        run = measure(args.customers)
    finally:
        server.stop()
    from bench import scale

    modeled = model(run, scale.measured_inputs(scale_run), args.model_customers, [float(r) for r in args.rates.split(",")])
    if args.json:
        print(json.dumps({"command": " ".join([".venv/bin/python", "-m", "bench.campaigns", *argv]),
                          "measured": run, "modeled": modeled}))
    else:
        print(report(argv, run, modeled))
    return 0


if __name__ == "__main__":
    sys.exit(main())
