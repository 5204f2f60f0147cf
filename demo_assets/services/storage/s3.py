"""Storage in an S3-compatible bucket: AWS S3, MinIO, LeapCell Object Storage and the like.

The AWS SDK is imported when an `S3Storage` is created, never at package import, so the
filesystem backend starts without it: botocore for the client, and boto3's transfer manager
only when a file is large enough to go up in parts (which saves a command ~80 ms of start-up).
botocore errors are translated into this package's errors where they enter; no message ever
carries a credential.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

from .base import CHUNK_SIZE, FileInfo, ObjectAttributes, Readable, StorageInterface, StoredFile
from .config import S3Settings, without_userinfo
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
# The ETag of the object a migration copied this one from (oppdemo's migrate writes it): an
# unchanged source is then recognised without reading it, even when its ETag is no MD5.
ORIGIN_METADATA = "oppdemo-origin-etag"
# CopyObject copies up to 5 GiB in one request; larger objects are copied part by part.
_COPY_LIMIT = 5 * 1024**3


def _etag(item: Any) -> str | None:
    return str(item.get("ETag") or "").strip('"') or None


def _etag_md5(item: Any) -> str | None:
    """The MD5 an ETag holds: that of a single-part upload (a multipart ETag has a '-')."""
    etag = _etag(item) or ""
    return etag if len(etag) == 32 and "-" not in etag else None


def _attributes(response: Any) -> ObjectAttributes:
    """What a GET or HEAD answer says beside the bytes; a recorded origin is not carried on."""
    metadata = dict(response.get("Metadata") or {})
    metadata.pop(ORIGIN_METADATA, None)
    return ObjectAttributes(
        response.get("CacheControl"), response.get("ContentDisposition"), metadata
    )


def _extra_args(content_type: str, attributes: ObjectAttributes, md5: str | None) -> dict[str, Any]:
    """The request arguments that store an object's type, attributes and known MD5."""
    extra: dict[str, Any] = {"ContentType": content_type}
    if attributes.cache_control:
        extra["CacheControl"] = attributes.cache_control
    if attributes.content_disposition:
        extra["ContentDisposition"] = attributes.content_disposition
    metadata = dict(attributes.metadata)
    if md5:
        metadata[_MD5_METADATA] = base64.b64encode(bytes.fromhex(md5)).decode()
    if metadata:
        extra["Metadata"] = metadata
    return extra


class _Hashing:
    """A stream that computes the MD5 of what is read through it, in order."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self.digest = hashlib.md5(usedforsecurity=False)

    def read(self, size: int = -1) -> bytes:
        chunk = self._stream.read(size)
        self.digest.update(chunk)
        return chunk


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


# One botocore session for every S3Storage of the process: a second client then reuses the
# loaded service model (6 ms instead of 90 ms). Sessions are not thread-safe: clients are
# made under a lock.
_SESSION_LOCK = threading.Lock()
_SESSIONS: list[Any] = []


def _session(botocore_session: Any) -> Any:
    if not _SESSIONS:
        _SESSIONS.append(botocore_session.get_session())
    return _SESSIONS[0]


def _same_endpoint(first: str | None, second: str | None) -> bool:
    def normal(url: str | None) -> tuple[str, str, int | None] | None:
        if url is None:
            return None
        parts = urlsplit(url.lower())
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        return parts.scheme, "localhost" if host in _LOOPBACK else host, port

    return normal(first) == normal(second)


_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def _is_aws(url: str) -> bool:
    """Whether botocore chose one of AWS's own endpoints (no other was configured)."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


class S3Storage(StorageInterface):
    """Keep files as objects under `settings.prefix` in `settings.bucket`."""

    backend_name = "s3"

    def __init__(self, settings: S3Settings) -> None:
        self.settings = settings
        # The endpoint botocore uses: S3_ENDPOINT_URL, else the one the AWS environment or
        # config file names (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, a profile's
        # endpoint_url), else AWS's own (None). Messages, URLs and choices below follow it.
        self.endpoint_url = settings.endpoint_url
        self._client = self._make_client()
        if self.endpoint_url is None:
            configured = str(self._client.meta.endpoint_url)
            if not _is_aws(configured):
                self.endpoint_url = configured.rstrip("/")
                self._client = self._make_client()
        self._bucket_checked = False

    def _make_client(self) -> Any:
        import botocore.session
        from botocore.config import Config

        settings = self.settings
        style = settings.addressing_style
        if style == "auto" and self.endpoint_url:
            # Most S3-compatible servers (MinIO, moto, LeapCell) answer path-style requests only.
            style = "path"
        elif style == "auto":
            # On AWS botocore's "auto" signs URLs and browser uploads for the global host,
            # which redirects a new bucket's requests for a day (a preflight cannot follow,
            # a signed GET breaks) and refuses buckets of opt-in regions; "virtual" names the
            # bucket's regional host, as its own requests do (path-style for dotted names).
            style = "virtual"
        self._addressing_style = style
        # Since botocore 1.36 every upload carries a CRC checksum by default, which several
        # S3-compatible services reject; ask for checksums only where the API requires them.
        checksums = "when_required" if self.endpoint_url else "when_supported"
        with _SESSION_LOCK, self._client_settings():
            return _session(botocore.session).create_client(
                "s3",
                region_name=settings.region,
                aws_access_key_id=settings.access_key,
                aws_secret_access_key=settings.secret_key,
                endpoint_url=self.endpoint_url,
                config=Config(
                    connect_timeout=settings.connect_timeout,
                    read_timeout=settings.read_timeout,
                    # In all, the first included (botocore's `max_attempts` counts retries).
                    retries={
                        "total_max_attempts": settings.max_attempts,
                        "mode": settings.retry_mode,
                    },
                    s3={"addressing_style": style},
                    signature_version="s3v4",
                    # Enough connections for a migration's parallel copies (16) and the app's.
                    max_pool_connections=32,
                    request_checksum_calculation=checksums,
                    response_checksum_validation=checksums,
                ),
            )

    @contextmanager
    def _client_settings(self) -> Iterator[None]:
        """botocore's refusal of its own settings (a profile that does not exist, a config
        file it cannot parse, a bad region) as one sentence naming them."""
        from botocore.exceptions import BotoCoreError

        try:
            yield
        except (BotoCoreError, ValueError) as error:
            raise StorageConfigError(
                f"botocore cannot make an S3 client from these settings ({error}): check "
                "S3_REGION and S3_ENDPOINT_URL, and AWS_PROFILE, AWS_CONFIG_FILE and "
                "AWS_ENDPOINT_URL in the environment."
            ) from None

    @property
    def shown_endpoint(self) -> str | None:
        """The endpoint in use without any `user:password@`; None for AWS's own."""
        return without_userinfo(self.endpoint_url) if self.endpoint_url else None

    def describe(self) -> str:
        where = self.shown_endpoint or f"AWS {self.settings.region}"
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
            extra = {"ContentType": content_type}
            self._upload_in_parts(content, bucket, object_key, extra)

    def _transfer_manager(self) -> Any:
        from boto3.s3.transfer import TransferConfig, create_transfer_manager

        size = self.settings.multipart_threshold
        config = TransferConfig(
            multipart_threshold=size, multipart_chunksize=size, max_concurrency=4
        )
        # A stream that cannot seek is read a part at a time into memory: hold 4 at most.
        config.max_in_memory_upload_chunks = 4
        return create_transfer_manager(self._client, config)

    def _upload_in_parts(
        self, content: bytes | Readable, bucket: str, key: str, extra: dict[str, Any]
    ) -> None:
        """Upload through boto3's managed transfer: parts in parallel, bounded memory.

        A failed or interrupted transfer aborts its multipart upload: no parts are left behind.
        """
        stream = io.BytesIO(content) if isinstance(content, bytes) else content
        with self._transfer_manager() as manager:
            manager.upload(stream, bucket, key, extra_args=extra).result()

    def _save_stream(
        self,
        key: str,
        stream: Readable,
        content_type: str,
        md5: str | None,
        attributes: ObjectAttributes,
    ) -> None:
        bucket, object_key = self.settings.bucket, self._object_key(key)
        threshold = self.settings.multipart_threshold
        with self._translate("upload", repr(key)):
            head = _read_up_to(stream, threshold)
            if len(head) < threshold:  # the whole file: one PUT, whose ETag is its MD5
                extra = _extra_args(content_type, attributes, None)
                self._client.put_object(Bucket=bucket, Key=object_key, Body=head, **extra)
                return
            # A multipart ETag is not an MD5, so the MD5 is kept in the object's metadata, as
            # rclone does (`x-amz-meta-md5chksum`, base64): given, or computed on the way up.
            hashing = None
            if _can_rewind(stream):
                # A local file: boto3 reads each part from it when sending, and no more.
                stream.seek(0)  # type: ignore[attr-defined]
                rest: Readable = stream
            else:
                rest = _Prepended(head, stream)
                if md5 is None:
                    # The transfer manager reads a stream that cannot seek in order.
                    rest = hashing = _Hashing(rest)
            extra = _extra_args(content_type, attributes, md5)
            self._upload_in_parts(rest, bucket, object_key, extra)
            if hashing is not None:
                computed = _extra_args(content_type, attributes, hashing.digest.hexdigest())
                self._replace_metadata(object_key, computed)

    def _replace_metadata(self, object_key: str, extra: dict[str, Any]) -> None:
        """Rewrite an object's metadata in place, server-side (no bytes travel)."""
        bucket = self.settings.bucket
        size = self._client.head_object(Bucket=bucket, Key=object_key)["ContentLength"]
        if size > _COPY_LIMIT:
            return  # a rewrite would copy it part by part: comparisons read it instead
        self._client.copy_object(
            Bucket=bucket,
            Key=object_key,
            CopySource={"Bucket": bucket, "Key": object_key},
            MetadataDirective="REPLACE",
            **extra,
        )

    def open_uploads(self) -> list[tuple[str, str, Any]]:
        """The multipart uploads begun under this storage's prefix and never completed or
        aborted (a killed upload leaves its parts, which AWS bills): (key, upload id, when)."""
        start = len(self.settings.prefix)
        found = []
        with self._translate("list", "open multipart uploads"):
            paginator = self._client.get_paginator("list_multipart_uploads")
            pages = paginator.paginate(Bucket=self.settings.bucket, Prefix=self.settings.prefix)
            for page in pages:
                for upload in page.get("Uploads", []):
                    key = upload["Key"][start:]
                    found.append((key, upload["UploadId"], upload.get("Initiated")))
        return sorted(found, key=lambda item: (item[0], str(item[2])))

    def abort_uploads(self, keys: Any, before: Any) -> int:
        """Abort the open multipart uploads of `keys` (all keys when None) begun before the
        datetime `before`: those of an earlier, killed run, never one in progress now."""
        wanted = None if keys is None else set(keys)
        aborted = 0
        for key, upload_id, initiated in self.open_uploads():
            if (wanted is not None and key not in wanted) or initiated is None:
                continue
            if initiated >= before:
                continue
            with self._translate("abort the multipart upload of", repr(key)):
                try:
                    self._client.abort_multipart_upload(
                        Bucket=self.settings.bucket, Key=self._object_key(key), UploadId=upload_id
                    )
                except Exception as error:  # already completed or aborted by its owner
                    if "NoSuchUpload" not in str(error):
                        raise
                    continue
            aborted += 1
        return aborted

    def presigned_post(
        self, path: str, content_type: str, max_bytes: int, expires: int = 600
    ) -> dict[str, Any]:
        """A form a browser can POST straight to the bucket, whose policy the bucket enforces:
        exactly this key, 1 to `max_bytes` bytes, this Content-Type, for `expires` seconds.
        Returns `{"url": ..., "fields": {...}}` (the URL without user info)."""
        key = self._key(path)
        with self._translate("sign an upload to", repr(key)):
            form: dict[str, Any] = self._client.generate_presigned_post(
                Bucket=self.settings.bucket,
                Key=self._object_key(key),
                Fields={"Content-Type": content_type},
                Conditions=[
                    {"Content-Type": content_type},
                    ["content-length-range", 1, max_bytes],
                ],
                ExpiresIn=expires,
            )
        form["url"] = without_userinfo(form["url"])
        return form

    def can_copy_from(self, source: StorageInterface) -> bool:
        """Whether `source`'s objects can be copied here by the server, no byte passing
        through this process: a bucket on the same endpoint, read with the same keys."""
        if not isinstance(source, S3Storage):
            return False
        mine, theirs = self.settings, source.settings
        return (
            _same_endpoint(self.endpoint_url, source.endpoint_url)
            and (mine.region == theirs.region or self.endpoint_url is not None)
            and mine.access_key == theirs.access_key
            and mine.secret_key == theirs.secret_key
        )

    def copy_from(
        self, source: S3Storage, path: str, size: int, md5: str | None, etag: str | None
    ) -> None:
        """Copy `path` of `source` (see `can_copy_from`) here with CopyObject, keeping its
        type, attributes and metadata, and recording its ETag as this object's origin."""
        try:
            self._copy_object_from(source, path, size, md5, etag)
        except (FileNotFoundError, StorageError):
            # A failed server-side copy may be either side's fault, and the answer (s3rver's
            # above all) does not say which: ask the source, whose own error names its bucket.
            try:
                source.file_info(path)
            except FileNotFoundError:
                source._check_bucket()  # HEAD answers a bare 404 for a missing bucket too
                raise
            raise

    def _copy_object_from(
        self, source: S3Storage, path: str, size: int, md5: str | None, etag: str | None
    ) -> None:
        key = self._key(path)
        copy_source = {"Bucket": source.settings.bucket, "Key": source._object_key(key)}
        bucket, object_key = self.settings.bucket, self._object_key(key)
        with self._translate("copy", repr(key), missing_key=FileNotFoundError):
            if md5 is not None and size <= _COPY_LIMIT:
                # A single-part source: the copy's ETag is the same MD5, so nothing to record.
                self._client.copy_object(
                    Bucket=bucket, Key=object_key, CopySource=copy_source, MetadataDirective="COPY"
                )
                return
            head = source._client.head_object(**copy_source)
            attributes = _attributes(head)
            # The object may have been replaced since it was listed: record the tag of the
            # version the server copies, and copy only that version (a source replaced
            # meanwhile fails the copy, to be reported, rather than get another's tag).
            etag = _etag(head) or etag
            if md5 is not None and _etag_md5(head) != md5:
                md5 = _etag_md5(head)
            if etag:
                attributes = ObjectAttributes(
                    attributes.cache_control,
                    attributes.content_disposition,
                    {**attributes.metadata, ORIGIN_METADATA: etag},
                )
            # The MD5 of a single-part source too large for CopyObject: its parts' ETag won't be.
            extra = _extra_args(head.get("ContentType") or "application/octet-stream",
                                attributes, md5)  # fmt: skip
            if etag:
                extra["CopySourceIfMatch"] = f'"{etag}"'
            if size <= _COPY_LIMIT:
                self._client.copy_object(
                    Bucket=bucket,
                    Key=object_key,
                    CopySource=copy_source,
                    MetadataDirective="REPLACE",
                    **extra,
                )
                return
            # Above 5 GiB: UploadPartCopy, part by part, still on the server.
            # A multipart upload has no metadata directive: s3transfer applies these attributes
            # only when told to replace (else it copies the source's and drops the origin).
            extra["MetadataDirective"] = "REPLACE"
            with self._transfer_manager() as manager:
                manager.copy(copy_source, bucket, object_key, extra_args=extra).result()

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
            _attributes(response),
            _etag(response),
        )

    def _iter(self, prefix: str) -> Iterator[FileInfo]:
        start = len(self.settings.prefix)
        with self._translate("list", f"keys under {prefix!r}" if prefix else "all keys"):
            paginator = self._client.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=self.settings.bucket, Prefix=self._object_key(prefix))
            for page in pages:
                for item in page.get("Contents", []):
                    yield FileInfo(
                        item["Key"][start:],
                        item["Size"],
                        item.get("LastModified"),
                        _etag_md5(item),
                        _etag(item),
                    )

    def _info(self, key: str) -> FileInfo:
        with self._translate("check", repr(key), missing_key=FileNotFoundError):
            head = self._client.head_object(Bucket=self.settings.bucket, Key=self._object_key(key))
        metadata = head.get("Metadata") or {}
        md5 = _etag_md5(head)
        kept = metadata.get(_MD5_METADATA)
        if md5 is None and kept:
            try:
                md5 = base64.b64decode(kept, validate=True).hex()
            except ValueError:
                md5 = None
        return FileInfo(
            key,
            int(head.get("ContentLength") or 0),
            head.get("LastModified"),
            md5 if md5 and len(md5) == 32 else None,
            _etag(head),
            metadata.get(ORIGIN_METADATA),
        )

    def _md5(self, key: str) -> str | None:
        return self._info(key).md5

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
            # The signature covers the host, never the user info: that is a secret to drop.
            return without_userinfo(url)
        return f"{self._bucket_url()}/{quote(object_key, safe='/')}"

    def plain_url(self, path: str) -> str:
        """The object's URL at the bucket itself: no CDN, no signature (what anyone could try)."""
        return f"{self._bucket_url()}/{quote(self._object_key(self._key(path)), safe='/')}"

    def _bucket_url(self) -> str:
        settings = self.settings
        endpoint = self.shown_endpoint
        if endpoint:
            parts = urlsplit(endpoint)
            if self._addressing_style == "virtual":
                return f"{parts.scheme}://{settings.bucket}.{parts.netloc}{parts.path}"
            return f"{endpoint}/{settings.bucket}"
        if "." in settings.bucket:
            # AWS's certificate covers one label before .s3.: a dotted name goes in the path.
            return f"https://s3.{settings.region}.amazonaws.com/{settings.bucket}"
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
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectTimeoutError,
            HTTPClientError,
            ReadTimeoutError,
        )
        from botocore.exceptions import ConnectionError as EndpointError

        try:
            yield
        except ClientError as error:
            self._raise_client_error(error, action, what, missing_key)
        except (HTTPClientError, EndpointError) as error:
            where = self.shown_endpoint or "AWS S3"
            settings = self.settings
            tries = f"{settings.max_attempts} attempt(s)"
            if isinstance(error, ConnectTimeoutError):
                raise StorageUnavailableError(
                    f"Could not {action} {what}: S3 at {where} did not accept a connection "
                    f"within {settings.connect_timeout:g} s ({tries}); check S3_ENDPOINT_URL "
                    "and that the server is running (S3_CONNECT_TIMEOUT and S3_MAX_ATTEMPTS "
                    "set how long to wait)."
                ) from None
            if isinstance(error, ReadTimeoutError):
                raise StorageUnavailableError(
                    f"Could not {action} {what}: S3 at {where} accepted the connection but did "
                    f"not reply within {settings.read_timeout:g} s ({tries}); check that the "
                    "server is running and not overloaded (S3_READ_TIMEOUT and S3_MAX_ATTEMPTS "
                    "set how long to wait)."
                ) from None
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
        if code == "PreconditionFailed" or status == 412:
            raise StorageError(
                f"Could not {action} {what}: it changed in the source while it was copied; "
                "run again to copy its new version."
            ) from None
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
