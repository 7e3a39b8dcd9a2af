"""ECR reads for the ECR family: repositories, their tags and lifecycle policies, and their images (ECR API). Every
call counted; a lifecycle policy that cannot be read is said so (policy_read False), never taken to be absent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.core.ecr import Image, Repository


class EcrInventory:
    def __init__(self, ecr: Any, region: str, account: str) -> None:
        self._ecr, self._region, self._account = ecr, region, account
        self.calls: dict[str, int] = {}

    def _count(self, name: str, n: int = 1) -> None:
        self.calls[name] = self.calls.get(name, 0) + n

    def repositories(self, names: Sequence[str] | None = None, *, images: bool = True) -> list[Repository]:
        """The repositories (all, or these), each with its tags, lifecycle policy and (with `images`) its images."""
        raw: list[dict[str, Any]] = []
        kwargs = {"repositoryNames": list(names)} if names is not None else {}
        try:
            for page in self._ecr.get_paginator("describe_repositories").paginate(**kwargs):
                self._count("DescribeRepositories")
                raw += page.get("repositories", [])
        except ClientError as exc:
            if names is None or exc.response["Error"]["Code"] != "RepositoryNotFoundException":
                raise
            return [r for n in names for r in self.repositories([n], images=images)] if len(names) > 1 else []
        return [self._model(r, images=images) for r in raw]

    def _model(self, r: dict[str, Any], *, images: bool) -> Repository:
        name, arn = r["repositoryName"], r["repositoryArn"]
        self._count("ListTagsForResource")
        tags = {t["Key"]: t["Value"] for t in self._ecr.list_tags_for_resource(resourceArn=arn).get("tags", [])}
        text, read = None, True
        self._count("GetLifecyclePolicy")
        try:
            text = self._ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]
        except ClientError as exc:
            read = exc.response["Error"]["Code"] == "LifecyclePolicyNotFoundException"
        return Repository(name=name, arn=arn, region=self._region, account=r.get("registryId") or self._account,
                          created=r.get("createdAt"), tags=tags, policy_text=text, policy_read=read,
                          images=tuple(self._images(name)) if images else ())

    def _images(self, name: str) -> list[Image]:
        out = []
        # up to 1,000 images a page (DescribeImages maxResults)
        pages = self._ecr.get_paginator("describe_images").paginate(repositoryName=name,
                                                                    PaginationConfig={"PageSize": 1000})
        for page in pages:
            self._count("DescribeImages")
            out += [Image(digest=i["imageDigest"], tags=tuple(i.get("imageTags", [])), pushed_at=i.get("imagePushedAt"),
                          last_pull=i.get("lastRecordedPullTime"), size_bytes=i.get("imageSizeInBytes"))
                    for i in page.get("imageDetails", [])]
        return out
