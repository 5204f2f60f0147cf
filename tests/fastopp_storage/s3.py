from urllib.parse import quote

import boto3
from botocore.exceptions import ClientError

from .base import StorageInterface


class S3Storage(StorageInterface):
    def __init__(self, access_key: str, secret_key: str, bucket: str,
                 endpoint_url: str | None = None, region: str = "us-east-1",
                 cdn_url: str | None = None) -> None:  # fmt: skip
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.cdn_url = cdn_url
        self.client = boto3.client(
            "s3",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            endpoint_url=endpoint_url,
            region_name=region,
        )

    def ensure_directories(self, *paths: str) -> None:
        pass

    def save_file(self, content: bytes, path: str, content_type: str | None = None) -> str:
        try:
            kind = content_type or "application/octet-stream"
            self.client.put_object(Bucket=self.bucket, Key=path, Body=content, ContentType=kind)
        except ClientError as error:
            raise RuntimeError(f"Failed to upload file to S3: {error}") from None
        return self.get_file_url(path)

    def get_file(self, path: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=path)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] == "NoSuchKey":
                raise FileNotFoundError(f"File not found: {path}") from None
            raise RuntimeError(f"Failed to retrieve file from S3: {error}") from None

    def file_exists(self, path: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=path)
        except ClientError:
            return False
        return True

    def delete_file(self, path: str) -> bool:
        self.client.delete_object(Bucket=self.bucket, Key=path)
        return True

    def list_files(self, prefix: str = "") -> list[str]:
        try:
            answer = self.client.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        except ClientError as error:
            raise RuntimeError(f"Failed to list files in S3: {error}") from None
        return [item["Key"] for item in answer.get("Contents", [])]

    def get_file_url(self, path: str) -> str:
        if self.cdn_url:
            return f"{self.cdn_url.rstrip('/')}/{quote(path, safe='/')}"
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}/{path}"
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com/{path}"
