"""S3 reads for the lifecycle run. Writes go through the executor (PUT_LIFECYCLE)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.storage import BucketLifecycle


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

    def lifecycle(self, bucket: str) -> BucketLifecycle:
        """The bucket's rules and default minimum object size as S3 returns them; no configuration is an empty one,
        not an error."""
        try:
            response = self._s3.get_bucket_lifecycle_configuration(Bucket=bucket)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
                return BucketLifecycle()
            raise
        return BucketLifecycle(response["Rules"], response.get("TransitionDefaultMinimumObjectSize"))
