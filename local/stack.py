"""The local AWS stack: moto in server mode on loopback, with every resource created from its definition."""
from __future__ import annotations

import email
import json
import logging
import os
import secrets
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Secrets and addresses of the local stack (`LOCAL_STATE_DIR` moves it, as the end-to-end tests do).
STATE_DIR = Path(os.environ.get("LOCAL_STATE_DIR") or ROOT / ".local")
SECRET_FILE = STATE_DIR / "jwt-secret"
#: The values the local stack puts in the emulator's Secrets Manager, as the cloud stack's secrets hold them.
UNSUBSCRIBE_SECRET_FILE = STATE_DIR / "unsubscribe-secret"
ERASURE_SECRET_FILE = STATE_DIR / "erasure-secret"
#: Where `serve` writes the addresses it chose, for `tick` and `outbox` in another shell.
STACK_FILE = STATE_DIR / "stack.json"
REGION = "us-east-1"


class PortInUse(Exception):
    """The port asked for is taken."""


@dataclass
class Emulator:
    endpoint: str
    server: object

    def stop(self) -> None:
        self.server.stop()


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def local_secret(path: Path = SECRET_FILE) -> str:
    """A secret of the local stack (token signing, unsubscribe links): made once per checkout, kept
    out of the repository."""
    if path.exists():
        return path.read_text().strip()
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def configure_environment(endpoint: str, secret: str, api_url: str | None = None) -> None:
    """What every process that talks to the local stack needs; set before app modules are imported."""
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AUTH_MODE": "local",
        "LOCAL_JWT_SECRET": secret,
        # The console shows the runner's own one-line summaries; structured logs are for CloudWatch.
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        # Mail goes through the configuration set, as in the cloud: its events reach the engagement queue.
        "SES_CONFIGURATION_SET": os.environ.get("SES_CONFIGURATION_SET",
                                                f"{os.environ.get('TABLE_PREFIX', 'automations-local-')}sends"),
    })
    if api_url:
        os.environ["PUBLIC_API_URL"] = api_url


def write_stack_file(endpoint: str, api_url: str, *, manual: bool = False) -> None:
    """`manual`: `serve --manual`, without background workers (the CLI's `import` then works the chunks)."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    STACK_FILE.write_text(json.dumps({"aws_endpoint_url": endpoint, "api_url": api_url, "manual": manual}))


def stack_file() -> dict:
    """What the running `serve` wrote, or {}."""
    try:
        return json.loads(STACK_FILE.read_text())
    except (OSError, ValueError):
        return {}


_SERVED_ONE_AT_A_TIME = threading.RLock()


def one_request_at_a_time() -> None:
    """The emulator's DynamoDB answers one request at a time. DynamoDB itself takes concurrent requests,
    but moto's backend is not thread-safe (a transaction deep-copies its tables while another request
    writes to them), and the dispatcher sends a batch's customers concurrently. Only DynamoDB: SQS's
    long polls must not hold up everything else. Idempotent."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler, "_one_at_a_time", False):
        return
    original = DynamoHandler.dispatch.__func__

    def dispatch(cls, *args, **kwargs):
        with _SERVED_ONE_AT_A_TIME:
            return original(cls, *args, **kwargs)

    DynamoHandler.dispatch = classmethod(dispatch)
    DynamoHandler._one_at_a_time = True


def transactions_back_up_items() -> None:
    """Before a `TransactWriteItems`, moto deep-copies every table it touches, to roll back to if the
    transaction fails: a transaction costs in proportion to the tables' size (tens of milliseconds at a
    few thousand items), where DynamoDB's costs about two writes. Here the items it touches are backed
    up instead, and restored if it fails; the tables are left as they are. Every customer write with a
    change to what it is found by is a transaction, so without this the local stack's writes (the demo
    store's seeding, an import) slow down as the tables grow. Idempotent."""
    import copy
    import types

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(models.DynamoDBBackend.transact_write_items, "items_backed_up", False):
        return
    # moto's module reads `copy.deepcopy`: tables come back as themselves, anything else is copied.
    models.copy = types.SimpleNamespace(deepcopy=lambda value, memo=None: value if isinstance(value, Table)
                                        else copy.deepcopy(value, memo))
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items):
        backups = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            table = self.get_table(op["TableName"])
            key = op.get("Key") or op["Item"]
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            current = table.items.get(hash_key, {}).get(range_key) if range_key else table.items.get(hash_key)
            backups.append((table, hash_key, range_key, copy.deepcopy(current)))
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(backups):
                if range_key is None:
                    table.items.pop(hash_key, None) if item is None else table.items.__setitem__(hash_key, item)
                elif item is None:
                    table.items.get(hash_key, {}).pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = item
            raise

    transact_write_items.items_backed_up = True
    models.DynamoDBBackend.transact_write_items = transact_write_items


def start_emulator(host: str, port: int) -> Emulator:
    from moto.server import ThreadedMotoServer

    one_request_at_a_time()
    transactions_back_up_items()
    if port and not port_free(host, port):
        raise PortInUse(f"port {port} on {host} is in use")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return Emulator(endpoint=f"http://{bound_host}:{bound_port}", server=server)


def create_secrets(secretsmanager) -> list[str]:
    """The unsubscribe keys and the erasure key in the emulator's Secrets Manager, under the names the code
    reads when no `*_SECRET_ID` names another (the cloud stack gives each function the ARNs of its own). The
    code reads them over HTTP as it reads AWS's; their values are kept in the state folder."""
    from chalicelib.core import config

    made = []
    for name, path in ((config.unsubscribe_secret_id(), UNSUBSCRIBE_SECRET_FILE),
                       (config.erasure_secret_id(), ERASURE_SECRET_FILE)):
        try:
            secretsmanager.create_secret(Name=name, SecretString=local_secret(path))
        except secretsmanager.exceptions.ResourceExistsException:
            continue
        made.append(name)
    return made


def create_resources(sender_identities: list[str]) -> dict:
    """Every table (from the models), queue, bucket, secret and SES identity the system uses."""
    import boto3

    from chalicelib.adapters.resources import (
        create_imports_bucket,
        create_local_feedback_route,
        create_queues,
    )
    from chalicelib.adapters.schema import create_tables
    from chalicelib.core import config

    tables = create_tables(boto3.client("dynamodb"))
    sqs = boto3.client("sqs")
    queues = create_queues(sqs)
    route = create_local_feedback_route(boto3.client("sns"), sqs)
    create_imports_bucket(boto3.client("s3"), config.imports_bucket())
    create_secrets(boto3.client("secretsmanager"))
    ses = boto3.client("ses")
    configuration_set = config.ses_configuration_set()
    if configuration_set:
        # The configuration set and its destination, as the packaged template declares them (the emulator
        # records them; local.ses_events publishes the events).
        from chalicelib.adapters.resources import SES_EVENT_TYPES

        ses.create_configuration_set(ConfigurationSet={"Name": configuration_set})
        ses.create_configuration_set_event_destination(ConfigurationSetName=configuration_set, EventDestination={
            "Name": "ses-events", "Enabled": True, "MatchingEventTypes": list(SES_EVENT_TYPES),
            "SNSDestination": {"TopicARN": route["topic_arn"]}})
    for identity in sender_identities:
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)
    return {"tables": tables, "queues": queues, "identities": sender_identities}


def verify_store_senders() -> list[str]:
    """The local stand-in for a store publishing its domain's DNS records: the domain of every store's sender
    address becomes a verified identity in the emulator's SES. Run at each step of the local clock (`serve`'s
    minute, `tick`), so a sender set in the settings is verified at the next step, as SES verifies a domain
    some time after its records appear. Returns the domains it verified now."""
    from chalicelib.adapters import clients
    from chalicelib.adapters.models import Tenant

    ses = clients.client("ses")
    known = {identity.lower() for identity in ses.list_identities(IdentityType="Domain")["Identities"]}
    verified = []
    for tenant in Tenant.scan(attributes_to_get=["tenant_id", "settings"]):
        sender = (tenant.settings.as_dict() if tenant.settings else {}).get("sender_email") or ""
        domain = sender.rpartition("@")[2].lower()
        if domain and domain not in known:
            ses.verify_domain_identity(Domain=domain)
            known.add(domain)
            verified.append(domain)
    return verified


def outbox() -> dict:
    """What the emulator's SES and SNS accepted, newest last: read from moto's backends in this process
    (the SMS list is not exposed over moto's HTTP API)."""
    from email.policy import default

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    emails = []
    for sent in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
        raw = getattr(sent, "raw_data", None)
        if raw is None:
            continue
        message = email.message_from_string(raw, policy=default)
        text = message.get_body(preferencelist=("plain",))
        emails.append({"message_id": sent.id, "from": str(message["From"]), "to": str(message["To"]),
                       "subject": str(message["Subject"]),
                       "list_unsubscribe": message["List-Unsubscribe"] and str(message["List-Unsubscribe"]),
                       "list_unsubscribe_post": message["List-Unsubscribe-Post"] and str(
                           message["List-Unsubscribe-Post"]),
                       "text": text.get_content() if text else ""})
    sms = [{"message_id": message_id, "to": phone, "body": body}
           for message_id, (phone, body) in sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.items()]
    return {"emails": emails, "sms": sms}
