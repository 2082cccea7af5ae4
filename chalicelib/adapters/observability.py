"""Structured logs and metrics (Powertools). Logs carry ids, never customer contact details.

The service name differs from the Chalice app's name: Chalice logs through a logger named after the
app, and a Powertools Logger of the same name would print every line twice.
"""
from __future__ import annotations

from collections import Counter
from typing import Iterable

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

SERVICE = "marketing-automations-runner"
NAMESPACE = "MarketingAutomations"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def count_sends(outcomes: Iterable) -> None:
    """One `Sends` metric per (outcome, reason) of a batch, and the claims taken over."""
    if is_metrics_disabled():
        return
    by_kind = Counter((o.status, o.reason or "none") for o in outcomes)
    for (status, reason), n in sorted(by_kind.items()):
        with single_metric(name="Sends", unit=MetricUnit.Count, value=n, namespace=NAMESPACE) as metric:
            metric.add_dimension(name="outcome", value=status)
            metric.add_dimension(name="reason", value=reason)


def claim_taken_over(ids: dict) -> None:
    """A send whose first dispatcher died holding its claim is being sent again. If that dispatcher died
    after the provider accepted the message, the customer receives it twice: these bound the
    duplicates. Logged and counted at once, so a batch that dies afterwards cannot lose the count."""
    logger.warning("expired claim taken over: the message may have been sent already", extra=ids)
    if not is_metrics_disabled():
        with single_metric(name="ClaimsTakenOver", unit=MetricUnit.Count, value=1, namespace=NAMESPACE):
            pass


def timing(name: str, milliseconds: float, **dimensions: str) -> None:
    if is_metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Milliseconds, value=milliseconds, namespace=NAMESPACE) as metric:
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)


def flush() -> None:
    """Publish the invocation's metrics, if it recorded any."""
    if metrics.metric_set:
        metrics.flush_metrics()
