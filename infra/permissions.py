"""What each Lambda function may do: the actions it calls on the resources it uses, and nothing else.

Tables are named by their model's table name without the stage prefix; a table listed with indexes
may also be queried through its global secondary indexes. `tests/integration/test_least_privilege.py`
runs a store's day through every entry point and checks that each call made is allowed here.
"""
from __future__ import annotations

from dataclasses import dataclass

GET, PUT, UPDATE, DELETE, QUERY, BATCH_GET = "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "BatchGetItem"


@dataclass(frozen=True)
class Tables:
    """DynamoDB actions on some tables (and, with `indexes`, on their indexes)."""

    actions: tuple[str, ...]
    tables: tuple[str, ...]
    indexes: bool = False


@dataclass(frozen=True)
class Grants:
    tables: tuple[Tables, ...] = ()
    #: Queues (by role: "sends", "evaluations") the function puts messages on.
    sends_to: tuple[str, ...] = ()
    #: SES raw email through the configuration set, and SMS through SNS.
    email: bool = False
    sms: bool = False
    #: SES questions that take no resource (`GetIdentityVerificationAttributes`, v2's `GetAccount`).
    ses_reads: tuple[str, ...] = ()
    #: What Lambda's event source reads with the function's own role (SAM grants it only to roles
    #: SAM creates): a queue it consumes, or the customers stream and its on-failure queue.
    consumes: str | None = None
    reads_customers_stream: bool = False
    #: S3 actions on the imports bucket's `imports/` prefix (customer import files and their rejects).
    import_files: tuple[str, ...] = ()
    #: The deployment's secrets it reads (`secretsmanager:GetSecretValue` on each, by name:
    #: "unsubscribe", the unsubscribe links' keys; "erasure", the key of erased addresses' hashes).
    secrets: tuple[str, ...] = ()
    #: Invoked asynchronously (SNS): an event that fails Lambda's retries goes to the function's dead-letter
    #: queue, which its role sends to.
    dead_letter_queue: bool = False


#: What each matcher reads: the customers table and every record type's indexes.
MATCHER_READS = Tables((QUERY,), ("customers", "sales", "repairs", "appointments"), indexes=True)

PLANNER = Grants(
    tables=(Tables((QUERY,), ("automations",), indexes=True), Tables((BATCH_GET,), ("tenants", "run_state"))),
    sends_to=("evaluations",))

GRANTS: dict[str, Grants] = {
    # The API: configuration, records, segments (their members read through the customers' indexes, as the
    # matchers read), test-runs (the matchers, the ledger and the dispatch checks, read only), communications
    # history and the unsubscribe page.
    "api_handler": Grants(tables=(
        Tables((GET, PUT), ("tenants",)),
        Tables((GET, PUT, QUERY), ("automations",)),
        Tables((GET, PUT, DELETE, QUERY), ("action_automations", "templates", "segments")),
        Tables((GET, PUT, UPDATE, DELETE, QUERY), ("campaigns",)),   # update: a campaign whose sends all ended is sent
        Tables((GET, PUT, DELETE), ("customers",)),
        Tables((GET, PUT, DELETE, QUERY), ("notes",)),   # a customer's notes; deleting a customer deletes them
        # A customer's audit trail: written in the customer's transaction, read by owners and managers; an
        # erasure deletes it but for its own entry, which it marks finished last.
        Tables((GET, PUT, UPDATE, DELETE, QUERY), ("customer_audit",)),
        # An erasure: the records lose their address, subject and body (the contents deleted), the customer's
        # marketing log goes, their ledger rows lose the message, their suppressed addresses are hashed.
        Tables((UPDATE,), ("communications",)),
        Tables((BATCH_GET, PUT, DELETE), ("communication_contents",)),
        Tables((DELETE,), ("marketing_log",)),
        Tables((PUT, DELETE, BATCH_GET), ("suppressions",)),
        # Written with the customer (update: the customer's id added to or taken off their address's item); read
        # by a search.
        Tables((PUT, UPDATE, DELETE, QUERY), ("customer_search",)),
        Tables((GET, PUT), ("sales", "repairs", "appointments")),
        # A sale's attribution: marked on the sale, added to the message's record and counters, once.
        Tables((UPDATE,), ("sales", "communications")),
        MATCHER_READS,
        Tables((QUERY,), ("action_firings", "automation_stats", "communications", "suppressions")),
        Tables((GET,), ("run_state",)),
        Tables((BATCH_GET,), ("marketing_log",)),
        Tables((BATCH_GET,), ("send_ledger",)),   # the test-run: what the ledger holds is already sent
        # A 1:1 email, sent in the request through the ledger: its claim, outcome, record and counter, the
        # suppression entry of the customer's address.
        Tables((PUT, UPDATE, DELETE), ("send_ledger",)),
        Tables((GET, PUT), ("communications",)),
        Tables((UPDATE,), ("automation_stats",)),
        Tables((GET,), ("suppressions",)),
        Tables((GET, PUT, UPDATE), ("imports",)),   # an import is created, then started with a conditional update
    ), email=True, ses_reads=("GetIdentityVerificationAttributes", "GetAccount"),   # and the sender's readiness
        sends_to=("evaluations",),   # an import's first chunk
        # PutObject: the upload address it signs is authorised by its role; GetObject: the preview, the rejects.
        import_files=("s3:PutObject", "s3:GetObject"),
        # The unsubscribe page opens links; a customer's erasure hashes their address with the erasure key.
        secrets=("unsubscribe", "erasure")),
    # Verifies tokens against the user pool's public keys (HTTPS); no AWS call.
    "jwt_auth": Grants(),
    "evaluate": Grants(tables=(
        Tables((GET,), ("tenants", "automations")),
        Tables((GET, PUT, UPDATE), ("run_state",)),   # update: a paging run's lease
        Tables((GET, UPDATE), ("campaigns",)),         # a campaign's page, recorded once
        MATCHER_READS,
        Tables((BATCH_GET,), ("send_ledger",)),
        # An import's chunk: the job, its customers and their addresses' items read in batches, and each row
        # through the customer write path (the customer's sales and repairs read for a new id from the file).
        Tables((GET, UPDATE), ("imports",)),
        Tables((GET, BATCH_GET, PUT), ("customers",)),
        # A customer's search keys and address item, in its own transaction; the addresses' items read.
        Tables((BATCH_GET, PUT, UPDATE, DELETE), ("customer_search",)),
        Tables((PUT,), ("customer_audit",)),   # a consent, tag or VIP change's entry, in the same transaction
    ), sends_to=("sends", "evaluations"), consumes="evaluations",   # evaluations: a full page's continuation
        import_files=("s3:GetObject", "s3:PutObject")),   # the uploaded file; each chunk's rejects
    "dispatch": Grants(tables=(
        # A batch's customers, settings and automations of every source, and the suppression entries of the
        # customers' addresses; each send's sale, repair or appointment and template. An SMS opt-out that
        # the provider reports is added to the suppressions.
        Tables((BATCH_GET,), ("customers", "tenants", "automations", "action_automations", "campaigns")),
        Tables((BATCH_GET, PUT), ("suppressions",)),
        Tables((GET,), ("sales", "repairs", "appointments", "templates")),
        Tables((GET, BATCH_GET, PUT, UPDATE, DELETE), ("send_ledger",)),
        Tables((GET, BATCH_GET, PUT), ("marketing_log",)),
        Tables((PUT,), ("communications", "communication_contents")),   # a record and its personal part
        Tables((UPDATE,), ("automation_stats",)),
        Tables((GET,), ("customer_audit",)),   # a send's customer is gone: were they erased?
    ), sends_to=("sends",), email=True, sms=True, consumes="sends",
        ses_reads=("GetIdentityVerificationAttributes",),   # after a refusal: is the sender verified?
        # The unsubscribe keys seal each marketing message's link; the erasure key finds an erased customer's
        # address on the suppression list (its keyed hash), as every suppression check does.
        secrets=("unsubscribe", "erasure")),
    # Every minute: starts the campaigns due (the sparse phase index), queues their first pages and those of
    # runs that stalled, and marks sent the campaigns whose sends have all ended (their outcome counters).
    "start_campaigns": Grants(tables=(
        Tables((QUERY, GET, UPDATE), ("campaigns",), indexes=True),
        Tables((GET,), ("tenants",)),
        Tables((QUERY,), ("automation_stats",)),
    ), sends_to=("evaluations",)),
    "release_deferred": Grants(tables=(Tables((QUERY, UPDATE), ("send_ledger",), indexes=True),), sends_to=("sends",)),
    "customer_changes": Grants(tables=(
        Tables((QUERY,), ("action_automations",)),
        Tables((GET, PUT), ("action_firings",)),
        Tables((BATCH_GET,), ("send_ledger",)),
    ), sends_to=("sends",), reads_customers_stream=True),
    "ses_feedback": Grants(tables=(Tables((PUT,), ("suppressions",)),), dead_letter_queue=True),
    # SES's events of sent email: the store's time zone, the message's record found in its customer's
    # history and updated once, in one transaction with its automation's day counter.
    "ses_engagement": Grants(tables=(
        Tables((GET,), ("tenants",)),
        Tables((QUERY, UPDATE), ("communications",)),
        Tables((UPDATE,), ("automation_stats",)),
    ), consumes="engagement"),
}


def grants_for(function: str) -> Grants:
    """A planner's grants (one per per-event type) or a named function's."""
    return PLANNER if function.startswith("plan_") else GRANTS[function]
