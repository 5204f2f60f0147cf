import os

from .base import StorageInterface
from .filesystem import FilesystemStorage


def get_storage() -> StorageInterface:
    if os.getenv("STORAGE_TYPE", "filesystem").lower() == "s3":
        from .s3 import S3Storage

        keys = [os.getenv(name) for name in ("S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET")]
        if not all(keys):
            raise ValueError("S3 storage requires S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET")
        return S3Storage(
            *keys,  # type: ignore[arg-type]
            endpoint_url=os.getenv("S3_ENDPOINT_URL"),
            region=os.getenv("S3_REGION", "us-east-1"),
            cdn_url=os.getenv("S3_CDN_URL"),
        )
    return FilesystemStorage(base_path=os.getenv("UPLOAD_DIR", "static/uploads"))
