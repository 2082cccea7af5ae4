"""The providers with fake clients: a message that cannot be built safely (a header with a line break, a lone
surrogate) is a permanent provider error, so the dispatcher records the send as failed; nothing is injected
and nothing escapes as an unexpected error."""
from __future__ import annotations

import email
from email.policy import default

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.providers import (
    UNBUILDABLE_MESSAGE,
    Email,
    PermanentProviderError,
    SesEmailSender,
    Sms,
    SnsSmsSender,
)

INJECTION = "\r\nBcc: x@y"


class FakeSes:
    """Records what would be sent; answers like SES."""

    def __init__(self):
        self.sent: list[dict] = []

    def send_raw_email(self, **request):
        self.sent.append(request)
        return {"MessageId": f"m{len(self.sent)}"}


def _email(**changes) -> Email:
    fields = dict(sender="hello@store.example", sender_name="The Store", to="ava@example.com", subject="Hi",
                  text="plain", html="<p>rich</p>", reply_to="studio@store.example",
                  unsubscribe_url="https://api.store.test/unsubscribe/tok", tags={"tenant_id": "t1"})
    return Email(**{**fields, **changes})


def _headers(raw: bytes) -> list[str]:
    return [name.lower() for name in email.message_from_bytes(raw, policy=default).keys()]


EXPECTED_HEADERS = ["from", "to", "subject", "message-id", "reply-to", "list-unsubscribe", "list-unsubscribe-post",
                    "mime-version", "content-type"]


def test_a_well_formed_email_goes_out_with_exactly_its_headers():
    ses = FakeSes()
    assert SesEmailSender(ses).send(_email()) == "m1"
    assert _headers(ses.sent[0]["RawMessage"]["Data"]) == EXPECTED_HEADERS


@pytest.mark.parametrize("field", ["subject", "sender_name", "to", "reply_to", "unsubscribe_url"])
@pytest.mark.parametrize("injection", [INJECTION, "\nBcc: x@y", "\rBcc: x@y"])
def test_a_header_with_a_line_break_is_a_permanent_error_and_nothing_is_sent(field, injection):
    ses = FakeSes()
    value = f"{getattr(_email(), field)}{injection}"
    with pytest.raises(PermanentProviderError) as e:
        SesEmailSender(ses).send(_email(**{field: value}))
    assert ses.sent == []
    # The reason names no personal data: neither the value nor the library's message (which could quote it).
    assert e.value.code == UNBUILDABLE_MESSAGE and str(e.value) == UNBUILDABLE_MESSAGE
    assert e.value.__cause__ is None and e.value.__suppress_context__


@pytest.mark.parametrize("field", ["subject", "sender_name", "text", "html"])
def test_a_lone_surrogate_is_a_permanent_error_not_a_unicode_error(field):
    ses = FakeSes()
    with pytest.raises(PermanentProviderError):
        SesEmailSender(ses).send(_email(**{field: "Ada \ud800"}))
    assert ses.sent == []


@pytest.mark.parametrize("field", ["to", "reply_to"])
@pytest.mark.parametrize("value", ['"', "<", "\u00d7@"])
def test_an_address_the_email_library_trips_over_is_a_permanent_error(field, value):
    # Python's header parser raises IndexError on these; the data decides it, so it is not retried.
    with pytest.raises(PermanentProviderError):
        SesEmailSender(FakeSes()).send(_email(**{field: value}))


@pytest.mark.parametrize("field", ["subject", "sender_name", "to", "reply_to"])
@pytest.mark.parametrize("encoded", ["=?us-ascii?q?Hi=0D=0ABcc:_x@y.example?=", "=?utf-8?q?Hi=0ABcc:_x@y.example?=",
                                     "=?utf-8?b?SGkNCkJjYzogeEB5LmV4YW1wbGU=?="])
def test_a_line_break_hidden_in_an_encoded_word_is_refused_too(field, encoded):
    # The email library decodes encoded words in the values it is given; before CPython 3.11.10 it then writes
    # the decoded line break as it is (CVE-2024-6923). A customer's name in the subject could carry this.
    ses = FakeSes()
    try:
        SesEmailSender(ses).send(_email(**{field: encoded}))
    except PermanentProviderError:
        assert ses.sent == []
        return
    assert _headers(ses.sent[0]["RawMessage"]["Data"]) == EXPECTED_HEADERS


@settings(max_examples=300)
@given(field=st.sampled_from(["subject", "sender_name", "to", "reply_to", "unsubscribe_url"]),
       value=st.text(max_size=40) | st.sampled_from([INJECTION, "a\nBcc: x@y", "a\u2028Bcc: x@y", "a\x85Bcc: x@y",
                                                     "=?utf-8?q?a=0D=0ABcc:_x@y?=", "=??Q?=0D0"]))
def test_whatever_a_header_holds_it_is_sent_without_an_added_header_or_refused_as_permanent(field, value):
    ses = FakeSes()
    try:
        SesEmailSender(ses).send(_email(**{field: value}))
    except PermanentProviderError:
        assert ses.sent == []
        return
    raw = ses.sent[0]["RawMessage"]["Data"]
    headers = _headers(raw)  # an empty reply_to or unsubscribe_url leaves its header out
    assert headers == [name for name in EXPECTED_HEADERS if name in headers] and "from" in headers
    assert b"\r" not in raw.split(b"\n\n", 1)[0]


def test_an_sms_with_a_lone_surrogate_is_a_permanent_error_before_anything_is_sent():
    # botocore encodes the request (UnicodeEncodeError) before it would send it.
    sns = boto3.client("sns", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    sent = []
    sns.meta.events.register("before-send.sns.Publish", lambda request, **_: sent.append(request))
    with pytest.raises(PermanentProviderError) as e:
        SnsSmsSender(sns).send(Sms(to="+61412345678", body="Hi Ada \ud800", sender_id="OpalCo"))
    assert e.value.code == UNBUILDABLE_MESSAGE and sent == []


class RejectingSes:
    """SES refusing every message (`MessageRejected`), then answering what it knows of the sender's identities."""

    def __init__(self, verified: set[str], status_fails: bool = False):
        self.verified, self.status_fails, self.asked = verified, status_fails, []

    def send_raw_email(self, **request):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "MessageRejected", "Message": "words that are not read"},
                           "ResponseMetadata": {"HTTPStatusCode": 400}}, "SendRawEmail")

    def get_identity_verification_attributes(self, Identities):  # noqa: N803 - boto3's parameter name
        from botocore.exceptions import ClientError

        self.asked.append(Identities)
        if self.status_fails:
            raise ClientError({"Error": {"Code": "Throttling"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
                              "GetIdentityVerificationAttributes")
        return {"VerificationAttributes": {i: {"VerificationStatus": "Success"} for i in Identities
                                           if i in self.verified}}


@pytest.mark.parametrize(("verified", "status_fails", "not_verified"), [
    (set(), False, True),                       # neither the address nor its domain
    ({"store.example"}, False, False),          # the domain: refused for another cause
    ({"hello@store.example"}, False, False),    # the address
    (set(), True, False),                       # SES did not say: a generic refusal
])
def test_a_refusal_is_sender_not_verified_only_when_ses_says_neither_identity_is_verified(verified, status_fails,
                                                                                          not_verified):
    from chalicelib.adapters.providers import SenderNotVerified

    ses = RejectingSes(verified, status_fails)
    with pytest.raises(PermanentProviderError) as raised:
        SesEmailSender(ses).send(_email())
    assert isinstance(raised.value, SenderNotVerified) is not_verified
    assert raised.value.code == "MessageRejected"
    assert ses.asked == [["hello@store.example", "store.example"]]
