"""The imports bucket: pre-signed upload addresses, the uploaded files and the rejects written beside them."""
from __future__ import annotations

from typing import Protocol

from botocore.exceptions import ClientError

#: The most an import file may hold: 100,000 customers of a few hundred bytes each, with room to spare.
MAX_FILE_BYTES = 64 * 1024 * 1024
#: How long an upload address stays valid.
UPLOAD_SECONDS = 3600
#: Where every tenant's import files live; the bucket's lifecycle rule expires them.
PREFIX = "imports/"


class FileMissing(Exception):
    """Nothing was uploaded to that key (yet)."""


class FileTooLarge(Exception):
    """The uploaded file is over MAX_FILE_BYTES."""


class Files(Protocol):
    def upload_url(self, key: str) -> str: ...
    def read(self, key: str, *, first: int | None = None) -> bytes: ...
    def write_text(self, key: str, text: str) -> None: ...


def import_key(tenant_id: str, import_id: str, name: str) -> str:
    return f"{PREFIX}{tenant_id}/{import_id}/{name}"


class S3Files:
    def __init__(self, s3_client, bucket: str) -> None:
        self._s3, self.bucket = s3_client, bucket

    def upload_url(self, key: str) -> str:
        return self._s3.generate_presigned_url("put_object", Params={"Bucket": self.bucket, "Key": key},
                                               ExpiresIn=UPLOAD_SECONDS, HttpMethod="PUT")

    def read(self, key: str, *, first: int | None = None) -> bytes:
        """The object's bytes (its first `first` bytes only, when given)."""
        try:
            if first is not None:
                answer = self._s3.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{first - 1}")
            else:
                answer = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code == "InvalidRange":
                return b""   # an empty file has no first bytes
            if code in ("NoSuchKey", "404"):
                raise FileMissing(key) from e
            raise
        if first is None and answer.get("ContentLength", 0) > MAX_FILE_BYTES:
            raise FileTooLarge(key)
        return answer["Body"].read()

    def write_text(self, key: str, text: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                            ContentType="text/csv; charset=utf-8")
