"""S3 reads for the lifecycle run. Writes go through the executor (PUT_LIFECYCLE)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError


class S3Buckets:
    def __init__(self, client: Any) -> None:
        self._s3 = client

    def names(self) -> list[str]:
        pages = self._s3.get_paginator("list_buckets").paginate()
        return [b["Name"] for page in pages for b in page.get("Buckets", [])]

    def region(self, bucket: str) -> str:
        location = self._s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        region: str = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
        return region

    def tags(self, bucket: str) -> dict[str, str]:
        try:
            tag_set = self._s3.get_bucket_tagging(Bucket=bucket)["TagSet"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchTagSet":
                return {}
            raise
        return {t["Key"]: t["Value"] for t in tag_set}

    def versioned(self, bucket: str) -> bool:
        """Versioning is or was enabled (a suspended bucket still holds noncurrent versions)."""
        return self._s3.get_bucket_versioning(Bucket=bucket).get("Status") in ("Enabled", "Suspended")

    def lifecycle(self, bucket: str) -> list[dict[str, Any]]:
        """The bucket's rules as S3 returns them; no configuration is an empty list, not an error."""
        try:
            rules: list[dict[str, Any]] = self._s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
                return []
            raise
        return rules
