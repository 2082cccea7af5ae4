"""The runner's parts, built once per warm Lambda (and per local stack) and shared by the event handlers:
the two queues and the dispatcher with its providers. Nothing is built at import."""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from functools import lru_cache, wraps
from typing import Callable, Iterator

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


Clock = Callable[[], datetime]

#: The clock the dispatcher decides by when none is given: unset in the cloud (the real clock). The
#: local runner sets it while `tick --at` processes the sends an instant produced (`deciding_by`), so
#: quiet hours, the frequency cap's window, claim leases and the stats' day follow that instant. A
#: context variable: it holds for the code that set it, not for other threads (`serve`'s workers).
_clock: ContextVar[Clock | None] = ContextVar("dispatch_clock", default=None)


@contextmanager
def deciding_by(clock: Clock) -> Iterator[None]:
    """Within this block, `dispatcher()` decides by `clock` instead of the real clock."""
    token = _clock.set(clock)
    try:
        yield
    finally:
        _clock.reset(token)


@lru_cache(maxsize=None)
def _providers():
    """Imported and built on the first call: only the dispatch function sends."""
    from chalicelib.adapters.providers import SesEmailSender, SnsSmsSender
    from chalicelib.sending.dispatcher import Providers

    return Providers(email=SesEmailSender(clients.client("ses"), config.ses_configuration_set()),
                     sms=SnsSmsSender(clients.client("sns")))


@lru_cache(maxsize=None)
def _real_time_dispatcher():
    from chalicelib.sending.dispatcher import Dispatcher

    return Dispatcher(_providers(), send_queue(), utcnow)


def dispatcher(clock: Clock | None = None):
    """The dispatcher on the real clock (the Lambda's: built once per warm Lambda), or on `clock`, or on
    the clock of an enclosing `deciding_by` (both built on the same providers and queue)."""
    clock = clock or _clock.get()
    if clock is None:
        return _real_time_dispatcher()
    from chalicelib.sending.dispatcher import Dispatcher

    return Dispatcher(_providers(), send_queue(), clock)


def reset() -> None:
    """Forget built parts (the environment changed: a new local stack, or a test's cold start)."""
    for cached in (send_queue, evaluation_queue, _providers, _real_time_dispatcher):
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
