"""The admin page: its files (in `chalicelib/admin/`, so they ship in the Lambda package), the public
configuration it starts from, and who the signed-in user is.

The page is static; everything it shows comes from the JSON API with the user's bearer token, so the
API's checks (tenant from the verified token, roles) are the only ones that count. The page itself needs
no login: it holds no data.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from chalicelib.core import config
from chalicelib.core.timeutil import timezone_names
from chalicelib.rules.auth import WRITERS, Principal

ADMIN_DIR = Path(__file__).resolve().parent.parent / "admin"
PAGE = "index.html"
#: The files the page loads, beside it; anything else is not found.
ASSETS = {"admin.js": "text/javascript; charset=utf-8", "admin.css": "text/css; charset=utf-8"}
CONFIG = "config.json"


def _cognito_origin() -> str | None:
    """`https://cognito-idp.<region>.amazonaws.com`, where the page signs users in (from the issuer)."""
    issuer = config.cognito_issuer()
    if not issuer:
        return None
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}"


def security_headers() -> dict[str, str]:
    """The page runs only its own script and talks only to this API and the user pool. Email previews are
    shown in a sandboxed frame (no scripts) that inherits this policy, so the policy allows what an email
    itself uses: inline styles and images over HTTPS."""
    connect = " ".join(filter(None, ["'self'", _cognito_origin() if config.auth_mode() == "cognito" else None,
                                     *config.imports_upload_origins()]))   # the import page's upload
    return {
        "Content-Security-Policy": (f"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                                    f"img-src 'self' data: https:; connect-src {connect}; frame-src 'self'; "
                                    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


@lru_cache(maxsize=None)
def _read(name: str) -> str:
    return (ADMIN_DIR / name).read_text(encoding="utf-8")


def page() -> str:
    return _read(PAGE)


def asset(name: str) -> tuple[str, str] | None:
    """(body, content type) of one of the page's files, or None."""
    if name in ASSETS:
        return _read(name), ASSETS[name]
    return None


def public_config() -> dict:
    """What the page needs before anyone signs in: how to sign in, and the time zones the API accepts."""
    mode = config.auth_mode()
    auth: dict = {"mode": mode}
    if mode == "cognito":
        origin, client_id = _cognito_origin(), config.cognito_audience()
        auth.update({"endpoint": f"{origin}/" if origin else None, "client_id": client_id})
    return {"auth": auth, "timezones": sorted(timezone_names())}


def me(principal: Principal) -> dict:
    """The caller as the API sees them, and what their role may change (the API enforces it; the page
    uses it to disable what would be refused)."""
    return {"tenant_id": principal.tenant_id, "role": principal.role, "subject": principal.subject,
            "may_change": {resource: principal.role in roles for resource, roles in WRITERS.items()}}
