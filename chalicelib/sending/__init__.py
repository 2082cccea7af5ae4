"""From a queued send to one outcome record: the send message, its sources, enqueueing, the dispatcher,
content, the ledger, the counters, the suppression list and unsubscribe links. Every source of sends
goes through here."""
