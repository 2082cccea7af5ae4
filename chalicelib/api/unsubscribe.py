"""Unsubscribe links: no login, the signed token in the link is the authority."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.core.clock import utcnow

bp = Blueprint(__name__)

UNSUBSCRIBE_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", "application/json"]
HTML = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}


@bp.route("/unsubscribe/{token}", methods=["GET"], content_types=UNSUBSCRIBE_TYPES)
def unsubscribe_page(token):
    from chalicelib.sending import unsubscribe

    status, page = unsubscribe.confirmation_page(token, utcnow())
    return Response(body=page, status_code=status, headers=HTML)


@bp.route("/unsubscribe/{token}", methods=["POST"], content_types=UNSUBSCRIBE_TYPES)
def unsubscribe_now(token):
    """The page's button, and RFC 8058 one-click (`List-Unsubscribe=One-Click`) from mail clients."""
    from chalicelib.sending import unsubscribe

    status, page = unsubscribe.withdraw(token, utcnow())
    return Response(body=page, status_code=status, headers=HTML)
