"""boto3 clients, built lazily in one place and reused across warm invocations.

Endpoints come from the environment (`AWS_ENDPOINT_URL` locally, AWS otherwise). Provider clients
get short timeouts and few retries: a dispatcher must finish a send well inside its claim's lease.
"""
from __future__ import annotations

from functools import lru_cache

from botocore.config import Config

from chalicelib.core import config

PROVIDER_CONFIG = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})


@lru_cache(maxsize=None)
def client(service: str):
    import boto3

    settings = PROVIDER_CONFIG if service in ("ses", "sesv2", "sns") else None
    return boto3.client(service, region_name=config.region(), config=settings)


@lru_cache(maxsize=None)
def queue_url(name: str) -> str:
    return client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def reset() -> None:
    """Forget clients and queue URLs (after the environment changed, as when the local stack starts)."""
    client.cache_clear()
    queue_url.cache_clear()
