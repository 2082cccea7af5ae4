"""Jobs on the evaluations queue: the per-event evaluations name no kind; a campaign's page and an import's
chunk say which they are."""
from __future__ import annotations

import json


def kind_of(body: str) -> str | None:
    """The `kind` a job message names, or None: a per-event job (which names none) or anything that is not a
    JSON object."""
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return None
    return data.get("kind") if isinstance(data, dict) else None
