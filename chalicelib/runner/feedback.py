"""SES bounce and complaint notifications (through SNS): the address is suppressed for the tenant whose
mail it was (docs/behaviour.md section 5, check 4). The tenant comes from the tags the dispatcher put on the mail,
which SES event publishing echoes in `mail.tags`."""
from __future__ import annotations

import json
from datetime import datetime
from email.utils import parseaddr

from chalicelib.adapters.providers import TENANT_TAG, from_tag_value
from chalicelib.core.contacts import EMAIL_RE
from chalicelib.sending.stores import suppress

HARD_BOUNCE, COMPLAINT = "hard_bounce", "complaint"


def addresses_to_suppress(notification: dict) -> tuple[str | None, list[str], str | None]:
    """(tenant id, addresses, reason) of an SES notification; no addresses for anything else
    (deliveries, soft bounces)."""
    kind = notification.get("eventType") or notification.get("notificationType")
    tags = (notification.get("mail") or {}).get("tags") or {}
    tenant = from_tag_value(tags[TENANT_TAG][0]) if tags.get(TENANT_TAG) else None
    if kind == "Bounce" and (notification.get("bounce") or {}).get("bounceType") == "Permanent":
        recipients, reason = notification["bounce"].get("bouncedRecipients") or [], HARD_BOUNCE
    elif kind == "Complaint":
        recipients, reason = (notification.get("complaint") or {}).get("complainedRecipients") or [], COMPLAINT
    else:
        return tenant, [], None
    addresses = [parseaddr(r.get("emailAddress", ""))[1] for r in recipients if isinstance(r, dict)]
    return tenant, [a for a in addresses if EMAIL_RE.match(a)], reason


def handle(message: str, now: datetime) -> int:
    """Handle one SNS message body; returns how many addresses were suppressed."""
    from chalicelib.adapters.observability import logger

    try:
        notification = json.loads(message)
    except ValueError:
        logger.warning("feedback message is not JSON; ignored")
        return 0
    if not isinstance(notification, dict):
        return 0
    tenant, addresses, reason = addresses_to_suppress(notification)
    if addresses and not tenant:
        # Mail sent without our tags (not by this runner): nobody to attribute it to.
        logger.warning("feedback without a tenant tag; ignored", extra={"reason": reason, "count": len(addresses)})
        return 0
    for address in addresses:
        suppress(tenant, "email", address, reason, now)
    if addresses:
        logger.info("addresses suppressed", extra={"tenant_id": tenant, "reason": reason, "count": len(addresses)})
    return len(addresses)
