"""SageMaker reads for the nightly sweep, in batches: endpoints and notebook instances by paginated lists (100 a
page), their tags through the Resource Groups Tagging API (100 a page, not one ListTags per resource), the variants'
metrics with ListMetrics + batched GetMetricData, and DescribeEndpoint/DescribeEndpointConfig only for the endpoints
whose verdict needs them (core.endpoints.needs_description)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from cost_janitor.adapters.cloudwatch import CloudWatchReader, Dimensions, MetricQuery, window
from cost_janitor.adapters.executor import Call, each
from cost_janitor.adapters.ledger import Ledger
from cost_janitor.core.endpoints import (
    ASYNC,
    COMPONENTS,
    ENDPOINT_TYPE,
    REAL_TIME,
    AsyncUsage,
    Endpoint,
    EndpointVariant,
    VariantUsage,
)
from cost_janitor.core.models import ActionKind, Series
from cost_janitor.core.notebooks import NOTEBOOK_TYPE, NotebookInstance
from cost_janitor.core.policy import Policy
from cost_janitor.core.pricing import accelerated
from cost_janitor.core.studio import APP_TYPE, DOMAIN_TYPE, IDLE_SHUTDOWN_APPS, SETTINGS_OF, StudioApp, StudioDomain

INVOCATIONS_NAMESPACE = "AWS/SageMaker"
INSTANCE_NAMESPACE = "/aws/sagemaker/Endpoints"  # CPU/GPU utilisation of an endpoint's instances, per variant
VARIANT = ("EndpointName", "VariantName")


class SageMakerInventory:
    def __init__(self, sagemaker: Any, tagging: Any, region: str) -> None:
        self._sm = sagemaker
        self._tagging = tagging
        self.region = region
        self.calls: Counter[str] = Counter()

    def endpoint_status(self, name: str) -> str | None:
        """DescribeEndpoint's EndpointStatus, or None when no endpoint has that name."""
        self.calls["DescribeEndpoint"] += 1
        try:
            return str(self._sm.describe_endpoint(EndpointName=name)["EndpointStatus"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
                return None
            raise

    def config_key(self, config_name: str) -> str | None:
        """The KMS key an EndpointConfig's volumes are encrypted with (None: AWS's own); ClientError when the config
        is gone."""
        self.calls["DescribeEndpointConfig"] += 1
        key = self._sm.describe_endpoint_config(EndpointConfigName=config_name).get("KmsKeyId")
        return str(key) if key else None

    def _tags(self, resource_type: str) -> dict[str, dict[str, str]]:
        """Every tagged resource of a type in the region, by ARN: one call per 100 resources."""
        out: dict[str, dict[str, str]] = {}
        for page in self._tagging.get_paginator("get_resources").paginate(ResourceTypeFilters=[resource_type],
                                                                          ResourcesPerPage=100):
            self.calls["GetResources"] += 1
            for m in page.get("ResourceTagMappingList", []):
                out[m["ResourceARN"]] = {t["Key"]: t["Value"] for t in m.get("Tags", [])}
        return out

    def endpoints(self) -> list[Endpoint]:
        """Every InService endpoint with its tags; variants are filled in by `describe`, for candidates only."""
        tags = self._tags(ENDPOINT_TYPE)
        out = []
        for page in self._sm.get_paginator("list_endpoints").paginate(StatusEquals="InService", MaxResults=100):
            self.calls["ListEndpoints"] += 1
            for e in page.get("Endpoints", []):
                out.append(Endpoint(name=e["EndpointName"], arn=e["EndpointArn"], region=self.region,
                                    account=e["EndpointArn"].split(":")[4], created=e["CreationTime"],
                                    last_modified=e["LastModifiedTime"], tags=tags.get(e["EndpointArn"], {})))
        return out

    def describe(self, endpoints: Sequence[Endpoint], cache: Ledger | None = None, *,
                 now: datetime | None = None) -> dict[str, Endpoint | None]:
        """Variants (type, current count, serverless, model) and EndpointConfig of each; None for one gone since
        the list. Configs are read once per run however many endpoints share them. With `cache` (the ledger), an
        endpoint not updated since an earlier run described it (same LastModifiedTime) is not described again."""
        saved = cache.descriptions([(self.region, e.name, e.last_modified.isoformat()) for e in endpoints]) \
            if cache is not None and endpoints else {}
        if cache is not None and endpoints:
            self.calls["BatchGetItem (descriptions)"] += -(-len(endpoints) // 100)
        out: dict[str, Endpoint | None] = {}
        fresh = []
        for e in endpoints:
            known = saved.get((self.region, e.name, e.last_modified.isoformat()))
            if known is not None and known.get("kind"):  # described before kinds were kept: described again
                out[e.name] = e.model_copy(update={
                    "config_name": known["config_name"], "config_arn": known["config_arn"], "kind": known["kind"],
                    "variants": tuple(EndpointVariant.model_validate(v) for v in known["variants"])})
            else:
                fresh.append(e)
        out.update(self._describe(fresh))
        if cache is not None and now is not None:
            cache.save_descriptions({
                (self.region, e.name, e.last_modified.isoformat()): {
                    "config_name": d.config_name, "config_arn": d.config_arn, "kind": d.kind,
                    "variants": [v.model_dump() for v in d.variants or ()]}
                for e in fresh if (d := out.get(e.name)) is not None}, now=now)
        return out

    def _describe(self, endpoints: Sequence[Endpoint]) -> dict[str, Endpoint | None]:
        configs: dict[str, dict[str, Any]] = {}
        out: dict[str, Endpoint | None] = {}
        for e in endpoints:
            try:
                self.calls["DescribeEndpoint"] += 1
                desc = self._sm.describe_endpoint(EndpointName=e.name)
                name = desc["EndpointConfigName"]
                if name not in configs:
                    self.calls["DescribeEndpointConfig"] += 1
                    configs[name] = self._sm.describe_endpoint_config(EndpointConfigName=name)
            except ClientError as exc:
                if exc.response["Error"]["Code"] in ("ValidationException", "ResourceNotFound"):
                    out[e.name] = None  # deleted since the list
                    continue
                raise
            config = configs[name]
            by_name = {v["VariantName"]: v for v in config.get("ProductionVariants", [])}
            variants = []
            for v in desc.get("ProductionVariants", []):
                spec = by_name.get(v["VariantName"], {})
                serverless = bool(v.get("CurrentServerlessConfig") or spec.get("ServerlessConfig"))
                variants.append(EndpointVariant(
                    name=v["VariantName"], instance_type=None if serverless else spec.get("InstanceType"),
                    instance_count=0 if serverless else int(v.get("CurrentInstanceCount")
                                                            or spec.get("InitialInstanceCount") or 0),
                    serverless=serverless, model_name=spec.get("ModelName")))
            # the kind decides which metrics judge it: an AsyncInferenceConfig makes it asynchronous; an instance
            # variant without a ModelName serves inference components (their models live in the components)
            kind = ASYNC if config.get("AsyncInferenceConfig") else COMPONENTS if any(
                not v.serverless and not v.model_name for v in variants) else REAL_TIME
            out[e.name] = e.model_copy(update={"config_name": name, "config_arn": config.get("EndpointConfigArn"),
                                               "variants": tuple(variants), "kind": kind})
        return out

    def current(self, endpoints: Sequence[Endpoint]) -> dict[str, Endpoint]:
        """Just before acting: each endpoint as it is now (InService only) with its tags now."""
        if not endpoints:
            return {}
        tags: dict[str, dict[str, str]] = {}
        arns = [e.arn for e in endpoints]
        for first in range(0, len(arns), 100):
            self.calls["GetResources"] += 1
            page = self._tagging.get_resources(ResourceARNList=arns[first:first + 100])
            tags.update({m["ResourceARN"]: {t["Key"]: t["Value"] for t in m.get("Tags", [])}
                         for m in page.get("ResourceTagMappingList", [])})
        described = self.describe(endpoints)
        out = {}
        for e in endpoints:
            now = described.get(e.name)
            if now is not None:
                out[e.name] = now.model_copy(update={"tags": tags.get(e.arn, {})})
        return out

    def notebooks(self, *, status: str = "InService") -> list[NotebookInstance]:
        tags = self._tags(NOTEBOOK_TYPE)
        out = []
        for page in self._sm.get_paginator("list_notebook_instances").paginate(StatusEquals=status, MaxResults=100):
            self.calls["ListNotebookInstances"] += 1
            for n in page.get("NotebookInstances", []):
                arn = n["NotebookInstanceArn"]
                out.append(NotebookInstance(
                    name=n["NotebookInstanceName"], arn=arn, region=self.region, account=arn.split(":")[4],
                    status=n["NotebookInstanceStatus"], instance_type=n["InstanceType"],
                    last_modified=n["LastModifiedTime"],
                    lifecycle_config=n.get("NotebookInstanceLifecycleConfigName"), tags=tags.get(arn, {})))
        return out


    def domains(self) -> list[StudioDomain]:
        """Every Studio domain with its idle-shutdown settings (one DescribeDomain each: accounts have few)."""
        listed: list[dict[str, Any]] = []
        for page in self._sm.get_paginator("list_domains").paginate():
            self.calls["ListDomains"] += 1
            listed += page.get("Domains", [])
        tags = self._tags(DOMAIN_TYPE) if listed else {}
        out = []
        for d in listed:
            self.calls["DescribeDomain"] += 1
            desc = self._sm.describe_domain(DomainId=d["DomainId"])
            settings = desc.get("DefaultUserSettings") or {}
            idle = {t: ((settings.get(SETTINGS_OF[t]) or {}).get("AppLifecycleManagement") or {})
                    .get("IdleSettings", {}).get("LifecycleManagement") == "ENABLED" for t in IDLE_SHUTDOWN_APPS}
            out.append(StudioDomain(domain_id=d["DomainId"], name=d.get("DomainName", d["DomainId"]),
                                    arn=d["DomainArn"], region=self.region, account=d["DomainArn"].split(":")[4],
                                    idle_shutdown=idle, tags=tags.get(d["DomainArn"], {})))
        return out

    def apps(self, domains: Sequence[StudioDomain]) -> list[StudioApp]:
        """Every app in service in these domains, with its own tags."""
        if not domains:
            return []
        tags = {arn.lower(): (arn, t) for arn, t in self._tags(APP_TYPE).items()}
        out = []
        for d in domains:
            for page in self._sm.get_paginator("list_apps").paginate(DomainIdEquals=d.domain_id,
                                                                      PaginationConfig={"PageSize": 100}):
                self.calls["ListApps"] += 1
                for a in page.get("Apps", []):
                    if a.get("Status") != "InService":
                        continue
                    owner = a.get("UserProfileName") or a.get("SpaceName") or ""
                    instance_type = (a.get("ResourceSpec") or {}).get("InstanceType")
                    # ListApps returns no ARN. A tagged app's ARN is the tagging API's, as AWS spells it; an untagged
                    # accelerator app (one the janitor may mark) is described for its AppArn. The form below only
                    # finds the match (case aside) and names an app nothing will be done to.
                    form = (f"arn:{d.arn.split(':')[1]}:sagemaker:{self.region}:{d.account}:app/{d.domain_id}/"
                            f"{owner}/{a['AppType']}/{a['AppName']}")
                    arn, app_tags = tags.get(form.lower(), (None, {}))
                    if arn is None and accelerated(instance_type):
                        arn = self._app_arn(d.domain_id, a)
                    out.append(StudioApp(arn=arn or form.lower(), domain_id=d.domain_id, app_type=a["AppType"],
                                         app_name=a["AppName"], region=self.region, account=d.account,
                                         created=a["CreationTime"], user_profile=a.get("UserProfileName"),
                                         space=a.get("SpaceName"), instance_type=instance_type, status=a["Status"],
                                         tags=app_tags))
        return out

    def _app_arn(self, domain_id: str, app: dict[str, Any]) -> str:
        self.calls["DescribeApp"] += 1
        who = {"UserProfileName": app["UserProfileName"]} if app.get("UserProfileName") else \
            {"SpaceName": app.get("SpaceName", "")}
        return str(self._sm.describe_app(DomainId=domain_id, AppType=app["AppType"], AppName=app["AppName"],
                                         **who)["AppArn"])


class EndpointUsageReader:
    """Each endpoint variant's Invocations (Sum), instance CPU (Average: only its coverage is used), GPU and GPU
    memory (Maximum; per AcceleratorId where enhanced metrics publish it) — discovered with ListMetrics, read in
    batches of 500 series."""

    def __init__(self, reader: CloudWatchReader) -> None:
        self._cw = reader

    def _sets(self, namespace: str, metric: str) -> dict[str, list[Dimensions]]:
        """Per endpoint, the dimension sets of a metric: the (EndpointName, VariantName) aggregate, plus the
        per-accelerator sets when enhanced metrics exist."""
        out: dict[str, set[Dimensions]] = {}
        for dims in self._cw.list_metrics(namespace, metric):
            names = {k for k, _ in dims}
            if set(VARIANT) <= names and (names == set(VARIANT) or "AcceleratorId" in names):
                out.setdefault(dict(dims)["EndpointName"], set()).add(dims)
        return {k: sorted(v) for k, v in out.items()}

    def read(self, endpoints: Sequence[Endpoint], policy: Policy, *,
             now: datetime) -> tuple[dict[str, dict[str, VariantUsage]], set[str]]:
        """Usage per endpoint and variant, and the endpoints whose metrics could not be read (not evaluated)."""
        if not endpoints:
            return {}, set()
        start, end = window(policy, now)
        names = {e.name for e in endpoints}
        calls = self._sets(INVOCATIONS_NAMESPACE, "Invocations")
        cpu = self._sets(INSTANCE_NAMESPACE, "CPUUtilization")
        gpu = self._sets(INSTANCE_NAMESPACE, "GPUUtilization")
        memory = self._sets(INSTANCE_NAMESPACE, "GPUMemoryUtilization")
        queries: list[MetricQuery] = []
        for source, metric, namespace, stat in ((calls, "Invocations", INVOCATIONS_NAMESPACE, "Sum"),
                                                (cpu, "CPUUtilization", INSTANCE_NAMESPACE, "Average"),
                                                (gpu, "GPUUtilization", INSTANCE_NAMESPACE, "Maximum"),
                                                (memory, "GPUMemoryUtilization", INSTANCE_NAMESPACE, "Maximum")):
            for endpoint, sets in source.items():
                if endpoint in names:
                    queries += [MetricQuery((endpoint, dict(d)["VariantName"], metric, d), namespace, metric, d, stat)
                                for d in _prefer_per_accelerator(sets)]
        found, failed = self._cw.read(queries, start=start, end=end, period=policy.idle.period_seconds)
        usage: dict[str, dict[str, VariantUsage]] = {}
        for key, s in found.items():
            endpoint, variant, metric = str(key[0]), str(key[1]), str(key[2])  # type: ignore[index]
            u = usage.setdefault(endpoint, {}).setdefault(variant, VariantUsage())
            usage[endpoint][variant] = _add(u, metric, s, "AcceleratorId" in dict(key[3]))  # type: ignore[index]
        # a variant with instance metrics but no Invocations series keeps invocations=None: an absent signal, which
        # the core never reads as zero traffic
        return usage, {str(k[0]) for k in failed}  # type: ignore[index]

    def read_async(self, endpoints: Sequence[Endpoint], policy: Policy, *,
                   now: datetime) -> tuple[dict[str, AsyncUsage], set[str]]:
        """The asynchronous endpoints' own metrics: ApproximateBacklogSize (Maximum) and InvocationsProcessed (Sum),
        dimension EndpointName (docs: "Monitoring asynchronous endpoints"); a series that does not exist stays None."""
        names = {e.name for e in endpoints if e.kind == ASYNC}
        if not names:
            return {}, set()
        start, end = window(policy, now)
        queries: list[MetricQuery] = []
        for metric, stat in (("ApproximateBacklogSize", "Maximum"), ("InvocationsProcessed", "Sum")):
            for dims in self._cw.list_metrics(INVOCATIONS_NAMESPACE, metric):
                if len(dims) == 1 and dims[0][0] == "EndpointName" and dims[0][1] in names:
                    queries.append(MetricQuery((dims[0][1], metric), INVOCATIONS_NAMESPACE, metric, dims, stat))
        found, failed = self._cw.read(list({q.key: q for q in queries}.values()), start=start, end=end,
                                      period=policy.idle.period_seconds)
        out: dict[str, AsyncUsage] = {}
        for key, series in found.items():
            name, metric = str(key[0]), str(key[1])  # type: ignore[index]
            field = "backlog" if metric == "ApproximateBacklogSize" else "processed"
            out[name] = out.get(name, AsyncUsage()).model_copy(update={field: series})
        return out, {str(k[0]) for k in failed}  # type: ignore[index]


def _prefer_per_accelerator(sets: list[Dimensions]) -> list[Dimensions]:
    """A variant's per-GPU series when it has them (the busiest GPU decides), else its aggregate."""
    by_variant: dict[str, list[Dimensions]] = {}
    for d in sets:
        by_variant.setdefault(dict(d)["VariantName"], []).append(d)
    out: list[Dimensions] = []
    for group in by_variant.values():
        per_gpu = [d for d in group if "AcceleratorId" in dict(d)]
        out += per_gpu or group
    return out


def _add(u: VariantUsage, metric: str, s: Series, per_accelerator: bool = False) -> VariantUsage:
    if metric == "Invocations":
        total = Series(mask=u.invocations.mask | s.mask if u.invocations else s.mask,
                       total=(u.invocations.total if u.invocations else 0) + s.total)
        return u.model_copy(update={"invocations": total})
    if metric == "CPUUtilization":
        return u.model_copy(update={"cpu": s})
    field = "gpu" if metric == "GPUUtilization" else "gpu_memory"
    return u.model_copy(update={field: (*getattr(u, field), s), "per_accelerator": per_accelerator})


def sm_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    """SageMaker's Tags list."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def inventory(region: str) -> SageMakerInventory:
    """The inventory of one region, through clients.client."""
    from cost_janitor.adapters.clients import client

    return SageMakerInventory(client("sagemaker", region), client("resourcegroupstaggingapi", region), region)


# SageMaker resources are marked and unmarked with SageMaker's own tag API (one resource a call; no DryRun).
MARKS: dict[ActionKind, Call] = {
    ActionKind.MARK_IDLE: Call("sagemaker", ("sagemaker:AddTags",), each(lambda sm, api, f, r: api(
        sm.add_tags, ResourceArn=f.resource_arn,
        Tags=sm_tags({r.policy.exemptions.idle_since_tag: r.now.isoformat(timespec="seconds")}))),
        dry_run_supported=False, batch=False),
    ActionKind.UNMARK_IDLE: Call("sagemaker", ("sagemaker:DeleteTags",), each(lambda sm, api, f, r: api(
        sm.delete_tags, ResourceArn=f.resource_arn, TagKeys=[r.policy.exemptions.idle_since_tag])),
        dry_run_supported=False, batch=False),
}
