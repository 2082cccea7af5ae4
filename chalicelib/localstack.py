"""The local AWS stack: moto in server mode on loopback, with every resource created from its definition."""
from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = ROOT / ".local"
SECRET_FILE = STATE_DIR / "jwt-secret"
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


def local_secret() -> str:
    """The signing secret of local tokens: made once per checkout, kept out of the repository."""
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text().strip()
    STATE_DIR.mkdir(exist_ok=True)
    secret = secrets.token_urlsafe(48)
    fd = os.open(SECRET_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def configure_environment(endpoint: str, secret: str) -> None:
    """What every process that talks to the local stack needs; set before app modules are imported."""
    os.environ.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AUTH_MODE": "local",
        "LOCAL_JWT_SECRET": secret,
    })


def start_emulator(host: str, port: int) -> Emulator:
    from moto.server import ThreadedMotoServer

    if port and not port_free(host, port):
        raise PortInUse(f"port {port} on {host} is in use")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    return Emulator(endpoint=f"http://{bound_host}:{bound_port}", server=server)


def create_resources(sender_identities: list[str]) -> dict:
    """Every table (from the models), queue and SES identity the system uses."""
    import boto3

    from chalicelib.resources import create_queues
    from chalicelib.schema import create_tables

    tables = create_tables(boto3.client("dynamodb"))
    queues = create_queues(boto3.client("sqs"))
    ses = boto3.client("ses")
    for identity in sender_identities:
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)
    return {"tables": tables, "queues": queues, "identities": sender_identities}
