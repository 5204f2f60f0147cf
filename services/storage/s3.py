"""Storage in an S3-compatible bucket: AWS S3, MinIO, LeapCell Object Storage and the like.

The AWS SDK is imported when an `S3Storage` is created, never at package import, so the
filesystem backend starts without it: botocore for the client, and boto3's transfer manager
only when a file is large enough to go up in parts (which saves a command ~80 ms of start-up).
botocore errors are translated into this package's errors where they enter; no message ever
carries a credential.
"""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

from .base import CHUNK_SIZE, FileInfo, Readable, StorageInterface, StoredFile
from .config import S3Settings
from .errors import (
    StorageAccessError,
    StorageConfigError,
    StorageError,
    StorageUnavailableError,
    UnsafeKeyError,
)
from .keys import MAX_KEY_BYTES

logger = logging.getLogger(__name__)

_MISSING_KEY_CODES = {"NoSuchKey", "404", "NotFound"}
_ACCESS_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "403",
    "Forbidden",
}


_MD5_METADATA = "md5chksum"


def _etag_md5(item: Any) -> str | None:
    """The MD5 an ETag holds: that of a single-part upload (a multipart ETag has a '-')."""
    etag = str(item.get("ETag") or "").strip('"')
    return etag if len(etag) == 32 and "-" not in etag else None


def _can_rewind(stream: Readable) -> bool:
    seekable = getattr(stream, "seekable", None)
    return bool(seekable and seekable() and getattr(stream, "tell", lambda: -1)() > 0)


def _read_up_to(stream: Readable, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = stream.read(min(CHUNK_SIZE, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class _Prepended(io.RawIOBase):
    """`head` followed by the rest of `stream`: what was read to choose how to upload."""

    def __init__(self, head: bytes, stream: Readable) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._head:
            taken = self._head[: size if size >= 0 else len(self._head)]
            self._head = self._head[len(taken) :]
            return bytes(taken)
        return self._stream.read(size)


class S3Storage(StorageInterface):
    """Keep files as objects under `settings.prefix` in `settings.bucket`."""

    backend_name = "s3"

    def __init__(self, settings: S3Settings) -> None:
        import botocore.session
        from botocore.config import Config

        self.settings = settings
        style = settings.addressing_style
        if style == "auto" and settings.endpoint_url:
            # Most S3-compatible servers (MinIO, moto, LeapCell) answer path-style requests only.
            style = "path"
        self._addressing_style = style
        # Since botocore 1.36 every upload carries a CRC checksum by default, which several
        # S3-compatible services reject; ask for checksums only where the API requires them.
        checksums = "when_required" if settings.endpoint_url else "when_supported"
        self._client = botocore.session.get_session().create_client(
            "s3",
            region_name=settings.region,
            aws_access_key_id=settings.access_key,
            aws_secret_access_key=settings.secret_key,
            endpoint_url=settings.endpoint_url,
            config=Config(
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
                retries={"max_attempts": settings.max_attempts, "mode": settings.retry_mode},
                s3={"addressing_style": style},
                signature_version="s3v4",
                request_checksum_calculation=checksums,
                response_checksum_validation=checksums,
            ),
        )
        self._bucket_checked = False

    def describe(self) -> str:
        where = self.settings.endpoint_url or f"AWS {self.settings.region}"
        return f"s3 (bucket {self.settings.bucket} at {where})"

    def _object_key(self, key: str) -> str:
        return f"{self.settings.prefix}{key}"

    def _check_key(self, key: str) -> None:
        size = len(self._object_key(key).encode("utf-8", "surrogatepass"))
        if size > MAX_KEY_BYTES:
            raise UnsafeKeyError(
                f"Storage key {key[:40]!r}… is {size} bytes long with the prefix "
                f"{self.settings.prefix!r}: S3 takes at most {MAX_KEY_BYTES}; shorten it."
            )

    def _save(self, key: str, content: bytes, content_type: str) -> None:
        logger.debug("uploading %s (%d bytes, %s)", key, len(content), content_type)
        bucket, object_key = self.settings.bucket, self._object_key(key)
        with self._translate("upload", repr(key)):
            if len(content) < self.settings.multipart_threshold:
                # One PUT: the transfer manager's thread pool is only worth it for large files.
                self._client.put_object(
                    Bucket=bucket, Key=object_key, Body=content, ContentType=content_type
                )
                return
            self._upload_in_parts(content, bucket, object_key, content_type)

    def _upload_in_parts(
        self,
        content: bytes | Readable,
        bucket: str,
        key: str,
        content_type: str,
        md5: str | None = None,
    ) -> None:
        """Upload through boto3's managed transfer: parts in parallel, bounded memory.

        A multipart ETag is not an MD5, so the MD5 (when known) is kept in the object's
        metadata, as rclone does (`x-amz-meta-md5chksum`, base64).
        """
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        size = self.settings.multipart_threshold
        config = TransferConfig(
            multipart_threshold=size, multipart_chunksize=size, max_concurrency=4
        )
        # A stream that cannot seek is read a part at a time into memory: hold 4 at most.
        config.max_in_memory_upload_chunks = 4
        extra: dict[str, Any] = {"ContentType": content_type}
        if md5:
            extra["Metadata"] = {_MD5_METADATA: base64.b64encode(bytes.fromhex(md5)).decode()}
        stream = io.BytesIO(content) if isinstance(content, bytes) else content
        with create_transfer_manager(self._client, config) as manager:
            manager.upload(stream, bucket, key, extra_args=extra).result()

    def _save_stream(self, key: str, stream: Readable, content_type: str, md5: str | None) -> None:
        bucket, object_key = self.settings.bucket, self._object_key(key)
        threshold = self.settings.multipart_threshold
        with self._translate("upload", repr(key)):
            head = _read_up_to(stream, threshold)
            if len(head) < threshold:  # the whole file: one PUT, whose ETag is its MD5
                self._client.put_object(
                    Bucket=bucket, Key=object_key, Body=head, ContentType=content_type
                )
                return
            if _can_rewind(stream):
                # A local file: boto3 reads each part from it when sending, and no more.
                stream.seek(0)  # type: ignore[attr-defined]
                rest: Readable = stream
            else:
                rest = _Prepended(head, stream)
            self._upload_in_parts(rest, bucket, object_key, content_type, md5)

    def _open(self, key: str) -> StoredFile:
        with self._translate("download", repr(key), missing_key=FileNotFoundError):
            response = self._client.get_object(
                Bucket=self.settings.bucket, Key=self._object_key(key)
            )
        return StoredFile(
            response["Body"],
            key,
            int(response.get("ContentLength") or 0),
            response.get("ContentType") or "application/octet-stream",
        )

    def _iter(self, prefix: str) -> Iterator[FileInfo]:
        start = len(self.settings.prefix)
        with self._translate("list", f"keys under {prefix!r}" if prefix else "all keys"):
            paginator = self._client.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=self.settings.bucket, Prefix=self._object_key(prefix))
            for page in pages:
                for item in page.get("Contents", []):
                    yield FileInfo(
                        item["Key"][start:], item["Size"], item.get("LastModified"), _etag_md5(item)
                    )

    def _md5(self, key: str) -> str | None:
        with self._translate("check", repr(key), missing_key=FileNotFoundError):
            head = self._client.head_object(Bucket=self.settings.bucket, Key=self._object_key(key))
        known = _etag_md5(head)
        if known:
            return known
        kept = head.get("Metadata", {}).get(_MD5_METADATA)
        try:
            return base64.b64decode(kept).hex() if kept else None
        except ValueError:
            return None

    def _read(self, key: str) -> bytes:
        with self._translate("download", repr(key), missing_key=FileNotFoundError):
            response = self._client.get_object(
                Bucket=self.settings.bucket, Key=self._object_key(key)
            )
            body: bytes = response["Body"].read()
        return body

    def _exists(self, key: str) -> bool:
        try:
            with self._translate("check", repr(key), missing_key=FileNotFoundError):
                self._client.head_object(Bucket=self.settings.bucket, Key=self._object_key(key))
        except FileNotFoundError:
            # HEAD answers a bare 404 for a missing bucket too: rule that out once.
            self._check_bucket()
            return False
        return True

    def _delete(self, key: str) -> bool:
        # S3 deletes succeed for missing keys; look first so the answer matches the filesystem.
        if not self._exists(key):
            return False
        with self._translate("delete", repr(key)):
            self._client.delete_object(Bucket=self.settings.bucket, Key=self._object_key(key))
        return True

    def _list(self, prefix: str) -> list[str]:
        start = len(self.settings.prefix)
        keys: list[str] = []
        with self._translate("list", f"keys under {prefix!r}" if prefix else "all keys"):
            paginator = self._client.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=self.settings.bucket, Prefix=self._object_key(prefix))
            for page in pages:
                keys.extend(item["Key"][start:] for item in page.get("Contents", []))
        return keys

    def _url(self, key: str) -> str:
        settings = self.settings
        object_key = self._object_key(key)
        if settings.cdn_url:
            return f"{settings.cdn_url}/{quote(object_key, safe='/')}"
        if settings.presign:
            with self._translate("sign a URL for", repr(key)):
                url: str = self._client.generate_presigned_url(
                    "get_object",
                    Params={"Bucket": settings.bucket, "Key": object_key},
                    ExpiresIn=settings.presign_expires,
                )
            return url
        return f"{self._bucket_url()}/{quote(object_key, safe='/')}"

    def _bucket_url(self) -> str:
        settings = self.settings
        if settings.endpoint_url:
            parts = urlsplit(settings.endpoint_url)
            if self._addressing_style == "virtual":
                return f"{parts.scheme}://{settings.bucket}.{parts.netloc}{parts.path}"
            return f"{settings.endpoint_url}/{settings.bucket}"
        return f"https://{settings.bucket}.s3.{settings.region}.amazonaws.com"

    def _check_bucket(self) -> None:
        if self._bucket_checked:
            return
        with self._translate("open", "the bucket", missing_key=StorageConfigError):
            self._client.head_bucket(Bucket=self.settings.bucket)
        self._bucket_checked = True

    @contextmanager
    def _translate(
        self, action: str, what: str, missing_key: type[Exception] | None = None
    ) -> Iterator[None]:
        """Turn botocore's errors into this package's errors, naming the fix."""
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as EndpointError

        try:
            yield
        except ClientError as error:
            self._raise_client_error(error, action, what, missing_key)
        except (HTTPClientError, EndpointError) as error:
            where = self.settings.endpoint_url or "AWS S3"
            raise StorageUnavailableError(
                f"Could not {action} {what}: S3 at {where} did not answer "
                f"({type(error).__name__}); check S3_ENDPOINT_URL and that the server is running."
            ) from None
        except BotoCoreError as error:
            raise StorageError(f"Could not {action} {what} in S3: {error}") from None

    def _raise_client_error(
        self, error: Any, action: str, what: str, missing_key: type[Exception] | None
    ) -> NoReturn:
        details = error.response.get("Error", {})
        code = str(details.get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        bucket = self.settings.bucket
        if code == "NoSuchBucket" or (missing_key is StorageConfigError and status == 404):
            raise StorageConfigError(
                f"S3 bucket {bucket!r} does not exist: create it or correct S3_BUCKET."
            ) from None
        if missing_key is not None and (code in _MISSING_KEY_CODES or status == 404):
            raise missing_key(f"No file stored under {what} in bucket {bucket!r}.") from None
        if code in _ACCESS_CODES or status == 403:
            raise StorageAccessError(
                f"S3 refused to {action} {what} in bucket {bucket!r} ({code or status}): "
                "check S3_ACCESS_KEY, S3_SECRET_KEY and the bucket's permissions.",
                code or str(status),
            ) from None
        if status >= 500:
            raise StorageUnavailableError(
                f"S3 failed to {action} {what} ({code or status}): the server had an error; "
                "try again later."
            ) from None
        raise StorageError(f"S3 could not {action} {what} in bucket {bucket!r}: {code}.") from None
