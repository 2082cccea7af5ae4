"""On paper: the monthly AWS cost of a 1,000,000-customer store with daily evaluations and 100,000
emails a month, from named prices and workload inputs, and its cost per 1,000 emails against SES's.

    .venv/bin/python -m bench.cost [--own-ms-per-send 10]

Every input is a named constant below (us-east-1 list prices, without the free tier), so the sums can
be redone with other prices or another workload. Where `bench.pipeline` measured something (the
dispatcher's own time per send, SQS requests per send), `bench.run` passes the measured figure in.
"""
from __future__ import annotations

import argparse
import json
import sys

PRICES = {
    "lambda_per_million_requests": 0.20,
    "lambda_per_gb_second": 0.0000166667,        # x86_64
    "dynamodb_per_million_write_units": 0.625,   # on demand
    "dynamodb_per_million_read_units": 0.125,    # on demand
    "dynamodb_per_gb_month": 0.25,
    "dynamodb_pitr_per_gb_month": 0.20,
    "ses_per_thousand_emails": 0.10,
    "sqs_per_million_requests": 0.40,
    "api_gateway_rest_per_million_requests": 3.50,
    "cloudwatch_per_alarm_month": 0.10,
    "cloudwatch_logs_per_gb_ingested": 0.50,
    "secrets_manager_per_secret_month": 0.40,
    "kms_per_key_month": 1.00,
}

WORKLOAD = {
    "customers": 1_000_000,
    "emails_per_month": 100_000,
    # Staff and integrations writing customers, sales, repairs and appointments through the API.
    "api_requests_per_month": 300_000,
    # 8 daily types once a day, 2 appointment types every 15 minutes, for 30 days.
    "evaluations_per_month": 8 * 30 + 2 * 96 * 30,
    # 10 planners every 15 minutes and the deferred-send release every 15 minutes.
    "scheduled_invocations_per_month": 11 * 96 * 30,
    # Lambda's event source mappings long-poll each queue even when idle (5 pollers, 20 s waits).
    "idle_sqs_requests_per_month": 2 * 5 * 3 * 60 * 24 * 30,
    "stored_gb": 4.0,                 # ~2 KB per customer with its indexes, plus sales, repairs, history
    "alarms": 9,
    "log_gb_per_month": 0.3,
    "secrets": 2,        # the unsubscribe keys and the erasure key
    "kms_keys": 1,       # the SNS topics' key
}

#: Per send, from the dispatcher's writes: the claim (ledger row and marketing log, transactional: 2
#: units per KB), the `accepted` write (one item), the outcome (ledger row and a ~2 KB communication
#: record) and the batch's counting transaction (the row marked counted, and its share of the counters:
#: about one counter per 5 sends); and its reads: customer, marketing log, suppression entry (half units,
#: eventually consistent), the ledger row (consistent) at evaluation and at dispatch, and the index item
#: that matched.
UNITS_PER_SEND = {"write_units": 2 * (1 + 1) + 1 + 2 * (1 + 2) + 2 * (1 + 0.2), "read_units": 0.5 * 3 + 1 * 2 + 0.5}

#: Latencies assumed for the dispatcher's billed time per send (AWS's own, in-region).
LATENCY_MS = {"dynamodb_transaction": 15, "dynamodb_batch_read_per_send": 1, "ses_send": 40}
MEMORY_GB = {"dispatch": 0.5, "evaluate": 1.0, "planner": 0.25, "api": 1.0}
SECONDS = {"evaluation": 0.5, "scheduled": 0.3, "api_request": 0.05}


def monthly(own_ms_per_send: float = 10.0, sqs_requests_per_send: float = 0.3) -> dict:
    p, w = PRICES, WORKLOAD
    sends = w["emails_per_month"]
    send_seconds = (own_ms_per_send + 2 * LATENCY_MS["dynamodb_transaction"] + LATENCY_MS["ses_send"]
                    + LATENCY_MS["dynamodb_batch_read_per_send"]) / 1000
    gb_seconds = (sends * send_seconds * MEMORY_GB["dispatch"]
                  + w["evaluations_per_month"] * SECONDS["evaluation"] * MEMORY_GB["evaluate"]
                  + w["scheduled_invocations_per_month"] * SECONDS["scheduled"] * MEMORY_GB["planner"]
                  + w["api_requests_per_month"] * SECONDS["api_request"] * MEMORY_GB["api"])
    invocations = (sends / 10 + w["evaluations_per_month"] + w["scheduled_invocations_per_month"]
                   + w["api_requests_per_month"] * 2)  # the API's requests and their authorizer (uncached)
    rows = {
        "Lambda (requests and compute)": invocations / 1e6 * p["lambda_per_million_requests"]
                                         + gb_seconds * p["lambda_per_gb_second"],
        "DynamoDB requests: sends": sends * (UNITS_PER_SEND["write_units"] / 1e6 * p["dynamodb_per_million_write_units"]
                                             + UNITS_PER_SEND["read_units"] / 1e6 * p["dynamodb_per_million_read_units"]),
        "DynamoDB requests: API writes (4 units each with indexes)":
            w["api_requests_per_month"] * 4 / 1e6 * p["dynamodb_per_million_write_units"],
        "DynamoDB storage and point-in-time recovery":
            w["stored_gb"] * (p["dynamodb_per_gb_month"] + p["dynamodb_pitr_per_gb_month"]),
        "SES": sends / 1000 * p["ses_per_thousand_emails"],
        "SQS": (sends * sqs_requests_per_send + w["idle_sqs_requests_per_month"]) / 1e6 * p["sqs_per_million_requests"],
        "API Gateway": w["api_requests_per_month"] / 1e6 * p["api_gateway_rest_per_million_requests"],
        "CloudWatch alarms and logs": w["alarms"] * p["cloudwatch_per_alarm_month"]
                                      + w["log_gb_per_month"] * p["cloudwatch_logs_per_gb_ingested"],
        "Secrets Manager": w["secrets"] * p["secrets_manager_per_secret_month"],
        "KMS (the topics' key)": w["kms_keys"] * p["kms_per_key_month"],
    }
    total = sum(rows.values())
    per_send = (UNITS_PER_SEND["write_units"] / 1e6 * p["dynamodb_per_million_write_units"]
                + UNITS_PER_SEND["read_units"] / 1e6 * p["dynamodb_per_million_read_units"]
                + send_seconds * MEMORY_GB["dispatch"] * p["lambda_per_gb_second"]
                + 0.1 / 1e6 * p["lambda_per_million_requests"]
                + sqs_requests_per_send / 1e6 * p["sqs_per_million_requests"])
    return {
        "rows": {name: round(cost, 2) for name, cost in rows.items()},
        "total": round(total, 2),
        "per_thousand_emails_all_in": round(total / sends * 1000, 3),
        "per_thousand_emails_marginal": round(per_send * 1000 + p["ses_per_thousand_emails"], 4),
        "ses_per_thousand_emails": p["ses_per_thousand_emails"],
        "inputs": {"prices": PRICES, "workload": WORKLOAD, "units_per_send": UNITS_PER_SEND,
                   "latency_ms": LATENCY_MS, "memory_gb": MEMORY_GB, "seconds": SECONDS,
                   "own_ms_per_send": own_ms_per_send, "sqs_requests_per_send": sqs_requests_per_send},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--own-ms-per-send", type=float, default=10.0)
    parser.add_argument("--sqs-requests-per-send", type=float, default=0.3)
    parser.add_argument("--json", action="store_true", help="print the figures on one line")
    args = parser.parse_args(argv)
    figures = monthly(args.own_ms_per_send, args.sqs_requests_per_send)
    print(json.dumps(figures) if args.json else json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
