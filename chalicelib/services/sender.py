"""Whether the store's sender can send (clienteling section 13, settings): its address or domain verified in SES,
and, where SES says, whether the account has left the SES sandbox; with what to do about each."""
from __future__ import annotations

from chalicelib.adapters.providers import production_access, sender_identities, verification_statuses
from chalicelib.adapters.tenants import load

VERIFIED = "Success"


def status(tenant_id: str, ses_client, sesv2_client) -> dict:
    """`ready` when the sender is verified and the account is not known to be in the sandbox."""
    sender = load(tenant_id).get("sender_email")
    if not sender:
        return {"sender_email": None, "verified": False, "identities": [], "production_access": None,
                "ready": False, "actions": ["Set the sender address (Settings: sender email) that messages come from."]}
    statuses = verification_statuses(ses_client, sender)
    verified = VERIFIED in statuses.values()
    production = production_access(sesv2_client)
    domain = sender_identities(sender)[-1]
    actions = []
    if not verified:
        actions.append(f"Verify the domain {domain} in Amazon SES (publish the DKIM records SES gives you in the "
                       f"domain's DNS), or verify the address {sender}. Until then SES refuses every message.")
    if production is False:
        actions.append("The SES account is in the sandbox: it sends only to verified addresses. Request production "
                       "access in the SES console.")
    elif production is None:
        actions.append("SES did not say whether the account is out of the sandbox (the local emulator does not "
                       "answer SES v2 GetAccount); in AWS, check the SES console's account dashboard.")
    return {"sender_email": sender, "verified": verified,
            "identities": [{"identity": identity, "status": value} for identity, value in statuses.items()],
            "production_access": production, "ready": verified and production is not False, "actions": actions}
