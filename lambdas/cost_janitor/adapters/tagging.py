"""Tags of any resource, by ARN, through the Resource Groups Tagging API (one API for EC2, S3, SageMaker, ...)."""

from __future__ import annotations

from typing import Any

from cost_janitor.core.tagging import Created

MAX_ARNS = 100


class ResourceTags:
    def __init__(self, client: Any) -> None:
        self._tagging = client

    def current(self, resources: list[Created]) -> dict[str, dict[str, str]]:
        """Each resource's tags now (an untagged resource has none: the API lists only tagged ones)."""
        out: dict[str, dict[str, str]] = {r.arn: {} for r in resources}
        arns = list(out)
        for start in range(0, len(arns), MAX_ARNS):
            page = self._tagging.get_resources(ResourceARNList=arns[start:start + MAX_ARNS])
            for mapping in page.get("ResourceTagMappingList", []):
                out[mapping["ResourceARN"]] = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
        return out

    def everything(self) -> list[tuple[str, dict[str, str]]]:
        """Every tagged (or once-tagged) resource in the region, for the coverage report."""
        pages = self._tagging.get_paginator("get_resources").paginate(ResourcesPerPage=100)
        return [(m["ResourceARN"], {t["Key"]: t["Value"] for t in m.get("Tags", [])})
                for page in pages for m in page.get("ResourceTagMappingList", [])]
