"""The runner's parts, built once per warm Lambda (and per local stack) and shared by the event handlers:
the two queues and the dispatcher with its providers. Nothing is built at import."""
from __future__ import annotations

from datetime import datetime
from functools import lru_cache, wraps

from chalicelib.adapters import clients, resources
from chalicelib.adapters.observability import flush
from chalicelib.adapters.queues import SqsQueue
from chalicelib.core import config
from chalicelib.core.clock import utcnow
from chalicelib.core.timeutil import parse_instant


@lru_cache(maxsize=None)
def send_queue() -> SqsQueue:
    return SqsQueue(clients.client("sqs"), clients.queue_url(resources.send_queue_name()))


@lru_cache(maxsize=None)
def evaluation_queue() -> SqsQueue:
    return SqsQueue(clients.client("sqs"), clients.queue_url(resources.evaluation_queue_name()))


@lru_cache(maxsize=None)
def dispatcher():
    """Imported and built on the first call: only the dispatch function sends."""
    from chalicelib.adapters.providers import SesEmailSender, SnsSmsSender
    from chalicelib.sending.dispatcher import Dispatcher, Providers

    providers = Providers(email=SesEmailSender(clients.client("ses"), config.ses_configuration_set()),
                          sms=SnsSmsSender(clients.client("sns")))
    return Dispatcher(providers, send_queue(), utcnow)


def reset() -> None:
    """Forget built parts (the environment changed: a new local stack, or a test's cold start)."""
    for cached in (send_queue, evaluation_queue, dispatcher):
        cached.cache_clear()
    clients.reset()


def flushed(fn):
    """Metrics are flushed at the end of every invocation (Chalice handlers take no Lambda context, so
    Powertools' decorator does not fit them)."""
    @wraps(fn)
    def run(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            flush()
    return run


def scheduled_instant(event) -> datetime:
    """The instant a schedule fired for (a late invocation still evaluates its own instant)."""
    try:
        return parse_instant(event.time.replace("Z", "+00:00"))
    except (AttributeError, TypeError, ValueError):
        return utcnow()
