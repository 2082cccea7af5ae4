"""The two providers a message leaves through, behind small ports: SES for email, SNS for SMS.

Each adapter receives its boto3 client and turns provider errors into two kinds: transient
(throttling, the service unavailable, no connection: try again later) and permanent (the message
was rejected: record it as failed). Errors are classified by their codes, never by message text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from email.errors import MessageError
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Mapping, Protocol

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "Throttled", "TooManyRequestsException", "ServiceUnavailable",
    "ServiceUnavailableException", "InternalFailure", "InternalError", "InternalErrorException",
    "RequestTimeout", "RequestTimeoutException",
})


#: The SES message tag naming whose mail it was, which SES echoes in every event of the message.
TENANT_TAG = "tenant_id"
_TAG_ESCAPES = {"-": "--", ".": "-d", ":": "-c"}


def tag_value(text: str) -> str:
    """An id as an SES tag value, which allows only letters, digits, `_` and `-`: reversibly escaped."""
    return "".join(_TAG_ESCAPES.get(ch, ch) for ch in text)


def from_tag_value(value: str) -> str:
    reverse = {escaped[1]: original for original, escaped in _TAG_ESCAPES.items()}
    out, chars = [], iter(value)
    for ch in chars:
        out.append(reverse.get(next(chars, ""), "") if ch == "-" else ch)
    return "".join(out)


class TransientProviderError(Exception):
    """Try again later. `ambiguous` when the provider may have accepted the message all the same."""

    def __init__(self, code: str, *, ambiguous: bool = False) -> None:
        super().__init__(code)
        self.code, self.ambiguous = code, ambiguous


class PermanentProviderError(Exception):
    """The provider rejected the message; trying again would not help."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class SenderNotVerified(PermanentProviderError):
    """SES rejected the message, and neither the sender's address nor its domain is a verified identity."""


#: SES's code for a message it refused (an unverified sender, a recipient outside the sandbox, content).
MESSAGE_REJECTED = "MessageRejected"


def sender_identities(sender: str) -> list[str]:
    """The SES identities a sender address may be verified as: the address itself and its domain."""
    domain = sender.rpartition("@")[2]
    return [sender, domain] if domain and domain != sender else [sender]


def verification_statuses(ses_client, sender: str) -> dict[str, str]:
    """Identity -> SES's verification status (`Success`, `Pending`, `Failed`, `NotStarted`, ...) of the sender's
    address and domain; an identity SES does not know is `NotStarted`."""
    identities = sender_identities(sender)
    found = ses_client.get_identity_verification_attributes(Identities=identities)["VerificationAttributes"]
    return {identity: (found.get(identity) or {}).get("VerificationStatus", "NotStarted") for identity in identities}


@dataclass(frozen=True)
class Email:
    sender: str
    sender_name: str
    to: str
    subject: str
    text: str
    html: str | None = None
    reply_to: str | None = None
    #: Marketing mail: the RFC 8058 one-click unsubscribe address.
    unsubscribe_url: str | None = None
    #: Attached to the send and echoed in SES events (bounces, complaints).
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Sms:
    to: str
    body: str
    sender_id: str | None = None
    transactional: bool = False


class EmailSender(Protocol):
    def send(self, email: Email) -> str:
        """Send; return the provider's message id. Raises Transient- or PermanentProviderError."""


class SmsSender(Protocol):
    def send(self, sms: Sms) -> str:
        """Send; return the provider's message id. Raises Transient- or PermanentProviderError."""

    def opted_out(self, phone: str) -> bool:
        """Whether the number replied STOP (the provider's opt-out list)."""


def _translate(error: Exception) -> Exception:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in TRANSIENT_CODES or status >= 500:
            return TransientProviderError(code or str(status))
        return PermanentProviderError(code or str(status))
    if isinstance(error, (EndpointConnectionError, ConnectTimeoutError)):
        return TransientProviderError(type(error).__name__)  # the request never arrived
    # The request went out and no answer came back: it may have been accepted.
    return TransientProviderError(type(error).__name__, ambiguous=True)


_NETWORK_ERRORS = (ClientError, EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError)

#: The code of a message that cannot be built: a header with a line break (which Python's email library
#: refuses with a ValueError, or which `mime_message` finds in what it generated), text that cannot be
#: encoded (a lone surrogate: UnicodeEncodeError, a ValueError), or an address the library's header parser
#: trips over (it raises IndexError or AttributeError on some malformed ones). The data decides it, so it
#: is permanent; the code names no personal data (the library's message could quote the value).
UNBUILDABLE_MESSAGE = "UnbuildableMessage"
_UNBUILDABLE = (ValueError, MessageError, IndexError, AttributeError)


def _check_generated_headers(raw: bytes, names: set[str]) -> None:
    """The header block as generated holds only the headers that were set, one per line (or folded onto
    continuation lines), and no carriage return. Python's email library decodes RFC 2047 encoded words in a
    value it is given, and before CPython 3.11.10 (CVE-2024-6923) writes what they decode to as it is: a
    subject of `=?us-ascii?q?Hi=0D=0ABcc:_x@y.example?=` would otherwise become a Bcc header."""
    head = raw.split(b"\n\n", 1)[0]
    if b"\r" in head:
        raise ValueError("a generated header holds a carriage return")
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # a folded continuation of the header above
        if line.partition(b":")[0].decode("ascii", "replace").lower() not in names:
            raise ValueError("a generated header line is not one of the headers set")


def mime_message(email: Email) -> bytes:
    """The raw MIME message; ValueError (or another of _UNBUILDABLE) when it cannot be built with exactly the
    headers it sets."""
    message = EmailMessage()
    message["From"] = formataddr((email.sender_name, email.sender)) if email.sender_name else email.sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain=email.sender.rpartition("@")[2] or None)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(email.text)
    if email.html:
        message.add_alternative(email.html, subtype="html")
    raw = message.as_bytes()
    _check_generated_headers(raw, {name.lower() for name in message.keys()})
    return raw


def production_access(sesv2_client) -> bool | None:
    """Whether the SES account may send to anyone (out of the sandbox); None when SES does not say (an emulator
    without SES v2's GetAccount, or the question failed)."""
    try:
        answer = sesv2_client.get_account()
    except (*_NETWORK_ERRORS, NotImplementedError):
        return None
    value = answer.get("ProductionAccessEnabled")
    return bool(value) if value is not None else None


class SesEmailSender:
    """Raw MIME through SES, so marketing mail can carry the List-Unsubscribe headers."""

    def __init__(self, ses_client, configuration_set: str | None = None) -> None:
        self._ses, self._configuration_set = ses_client, configuration_set

    def send(self, email: Email) -> str:
        try:
            data = mime_message(email)
        except _UNBUILDABLE:
            raise PermanentProviderError(UNBUILDABLE_MESSAGE) from None
        request: dict = {"RawMessage": {"Data": data},
                         "Tags": [{"Name": k, "Value": val} for k, val in email.tags.items()]}
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            return self._ses.send_raw_email(**request)["MessageId"]
        except _NETWORK_ERRORS as e:
            error = _translate(e)
            if isinstance(error, PermanentProviderError) and error.code == MESSAGE_REJECTED and not (
                    self._sender_verified(email.sender)):
                raise SenderNotVerified(error.code) from e
            raise error from e

    def _sender_verified(self, sender: str) -> bool:
        """After a rejection, whether the sender is verified: SES's message says why in words, and errors are
        classified by what SES reports, never by message text. Unknown (the question failed) counts as verified,
        so the rejection stays a generic provider error."""
        try:
            return "Success" in verification_statuses(self._ses, sender).values()
        except _NETWORK_ERRORS:
            return True


class SnsSmsSender:
    def __init__(self, sns_client) -> None:
        self._sns = sns_client

    def send(self, sms: Sms) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                              "StringValue": "Transactional" if sms.transactional else "Promotional"}}
        if sms.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sms.sender_id}
        try:
            return self._sns.publish(PhoneNumber=sms.to, Message=sms.body, MessageAttributes=attributes)["MessageId"]
        except UnicodeEncodeError:
            # A lone surrogate in the text: botocore cannot encode the request, before anything is sent.
            raise PermanentProviderError(UNBUILDABLE_MESSAGE) from None
        except _NETWORK_ERRORS as e:
            raise _translate(e) from e

    def opted_out(self, phone: str) -> bool:
        try:
            return bool(self._sns.check_if_phone_number_is_opted_out(phoneNumber=phone)["isOptedOut"])
        except _NETWORK_ERRORS as e:
            raise _translate(e) from e
