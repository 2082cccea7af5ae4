"""Every source puts its sends on the send queue through here, so none is queued twice."""
from __future__ import annotations

from chalicelib.adapters.queues import Queue
from chalicelib.sending import ledger
from chalicelib.sending.messages import Send, pack


def enqueue(sends: list[Send], queue: Queue) -> int:
    """Queue the sends the ledger does not hold yet (an evaluation run twice queues nothing twice, and
    an appointment in its window is queued once, not at every evaluation); returns how many. They go
    PACK to a message (`messages.pack`)."""
    known = ledger.read(sends)
    fresh = [s for s in sends if s.ledger_key not in known]
    if fresh:
        queue.send(pack(fresh))
    return len(fresh)
