"""Names and settings read from the environment, in one place."""
from __future__ import annotations

import os

#: Every table name starts with this, so several stages can share an account.
TABLE_PREFIX_ENV = "TABLE_PREFIX"
DEFAULT_TABLE_PREFIX = "automations-local-"


def table_prefix() -> str:
    return os.environ.get(TABLE_PREFIX_ENV, DEFAULT_TABLE_PREFIX)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def auth_mode() -> str:
    """`local` (HS256 with a secret the local stack makes) or `cognito` (RS256, user pool keys)."""
    return os.environ.get("AUTH_MODE", "cognito")


def local_jwt_secret() -> str | None:
    return os.environ.get("LOCAL_JWT_SECRET")


def cognito_issuer() -> str | None:
    """`https://cognito-idp.<region>.amazonaws.com/<user pool id>`."""
    return os.environ.get("COGNITO_ISSUER")


def cognito_audience() -> str | None:
    """The user pool app client id that ID tokens are issued for."""
    return os.environ.get("COGNITO_AUDIENCE")


def unsubscribe_secret_id() -> str:
    """The Secrets Manager secret holding the unsubscribe links' keys: its ARN in the cloud, its name in the
    emulator (the local stack creates it). The keys themselves are read at run time, never from here."""
    return os.environ.get("UNSUBSCRIBE_SECRET_ID") or f"{table_prefix()}unsubscribe-keys"


def erasure_secret_id() -> str:
    """The Secrets Manager secret holding the erasure key (keyed hashes of erased customers' addresses)."""
    return os.environ.get("ERASURE_SECRET_ID") or f"{table_prefix()}erasure-key"


def public_api_url() -> str:
    """Where customers reach the API (unsubscribe links), without a trailing slash."""
    return os.environ.get("PUBLIC_API_URL", "http://127.0.0.1:8000").rstrip("/")


def ses_configuration_set() -> str | None:
    """The SES configuration set whose event destination publishes bounces and complaints."""
    return os.environ.get("SES_CONFIGURATION_SET") or None


def imports_bucket() -> str:
    """The S3 bucket customer import files are uploaded to (and their rejects written to)."""
    return os.environ.get("IMPORTS_BUCKET", f"{table_prefix()}imports")


def imports_upload_origins() -> list[str]:
    """Where the admin page PUTs an import file (the pre-signed address's origin), for its connect-src: the
    emulator's endpoint locally, else the bucket's S3 hosts (boto3 signs virtual-hosted addresses)."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return [endpoint.rstrip("/")]
    bucket = imports_bucket()
    return [f"https://{bucket}.s3.amazonaws.com", f"https://{bucket}.s3.{region()}.amazonaws.com"]
