"""Sources of sends: what asked for a message, and what the dispatcher needs to know of it.

A source is one module registered in `SOURCES`, as a matcher is one module registered in `MATCHERS`.
Each says, for the sends it puts on the send queue:

- `NAME`: the `source` a send of it carries;
- `category(type_)`: marketing or transactional (consent, the frequency cap and quiet hours apply to marketing);
- `batch_keys(sends)`: the items the dispatcher's one batch read should bring for these sends, and
  `configurations(sends, found)`: the configuration of each send's automation from what it brought (a
  deleted or unknown automation is a switched-off one);
- `template_id(automation, type_)`: the template in effect;
- `variables(send, automation, settings)`: the template variables of the source's own types;
- `DISABLED_REASON`: the reason a send ends skipped when its automation (or campaign) no longer sends.

The dispatcher and the content code hold no branch on a source or a type: adding a source is one module
here, and no dispatcher code changes.
"""
from __future__ import annotations

import importlib
from types import MappingProxyType, ModuleType
from typing import Mapping

from chalicelib.sending.messages import MalformedMessage, Send

#: A send's `source` -> the module of that source. Modules are imported when first needed: an evaluation
#: or the stream consumer imports only its own source.
SOURCES: Mapping[str, str] = MappingProxyType({
    "automation": "chalicelib.sending.sources.automation",
    "action_automation": "chalicelib.sending.sources.action",
    "campaign": "chalicelib.sending.sources.campaign",
    "one_to_one": "chalicelib.sending.sources.one_to_one",
})


def source_of(send: Send) -> ModuleType:
    """The source that asked for a send; a send of an unknown source can never succeed."""
    try:
        return importlib.import_module(SOURCES[send.source])
    except KeyError:
        raise MalformedMessage("unknown source") from None
