"""The patches that make the moto server as strict as AWS where the janitor depends on it (each says what moto
did and what AWS documents). `patch_all` applies them once per process.

moto 5.2 CloudWatch deviates from AWS in ways that matter here, so `start_moto` patches the server:
multi-dimension series are compared wrongly (ListMetrics returns one entry per datapoint), ListMetrics
de-duplicates in O(n²), and GetMetricData scans every datapoint for every query and period. The patches
give AWS's semantics (exact dimension sets, as GetMetricData requires) over a per-series index that is
rebuilt only when data is added; the statistics are still moto's own `Statistics`. SSM SendCommand without
Targets is patched too (moto sends it to every instance in the account), and so are EC2 tag writes on an
instance the region does not have (moto tags any id; EC2 answers InvalidInstanceID.NotFound). S3 lifecycle
writes are made as strict as S3 (V1/V2 rules mixed, transitions S3 refuses, rule IDs over 255 characters) and
keep the bucket's TransitionDefaultMinimumObjectSize (moto drops it and always answers all_storage_classes_128K).
SageMaker: CreateEndpoint refuses an existing name, notebook instances come into service and their
LastModifiedTime follows starts and stops (see _patch_sagemaker). EventBridge: a rule forwarding to another
account's bus is held to that bus's policy and keeps the sender's account (see _patch_events).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from cost_janitor.local.token_bucket import TokenBucket


def _patch_cloudwatch() -> None:
    from moto.cloudwatch import models as cw

    if getattr(cw, "_cost_janitor_patched", False):
        return

    def same_dimensions(a: list[Any], b: list[Any]) -> bool:
        return {(d.name, d.value) for d in a} == {(d.name, d.value) for d in b}

    def series_index(self: Any) -> dict[tuple[Any, ...], list[Any]]:
        """Datapoints grouped by (namespace, name, dimension set), rebuilt only when data was added."""
        cache = getattr(self, "_cost_janitor_index", None)
        if cache is None or cache[0] != len(self.metric_data):
            index: dict[tuple[Any, ...], list[Any]] = {}
            for md in self.metric_data:
                key = (md.namespace, md.name, frozenset((d.name, d.value) for d in md.dimensions))
                index.setdefault(key, []).append(md)
            cache = (len(self.metric_data), index)
            self._cost_janitor_index = cache
        computed = self.aws_metric_data  # moto derives these on the fly from other services (usually none)
        if not computed:
            index_: dict[tuple[Any, ...], list[Any]] = cache[1]
            return index_
        merged = dict(cache[1])
        for md in computed:
            key = (md.namespace, md.name, frozenset((d.name, d.value) for d in md.dimensions))
            merged[key] = [*merged.get(key, []), md]
        return merged

    def get_filtered_metrics(self: Any, metric_name: str, namespace: str,
                             dimensions: list[dict[str, str]]) -> list[Any]:
        wanted = [(d["Name"], d.get("Value")) for d in dimensions or []]
        out = []
        for (ns, name, dims), datums in series_index(self).items():
            if (namespace and ns != namespace) or (metric_name and name != metric_name):
                continue
            names = {n for n, _ in dims}
            if all((n, v) in dims if v is not None else n in names for n, v in wanted):
                out.append(datums[0])
        return out

    original_get_metric_data = cw.CloudWatchBackend.get_metric_data

    def get_metric_data(self: Any, queries: list[dict[str, Any]], start_time: datetime, end_time: datetime,
                        scan_by: str = "TimestampAscending") -> list[dict[str, Any]]:
        if not queries or any("MetricStat" not in q for q in queries) or start_time >= end_time:
            return original_get_metric_data(self, queries, start_time, end_time, scan_by)
        start_time = start_time.replace(microsecond=0)
        end_time = end_time.replace(microsecond=0)
        index = series_index(self)
        results = []
        for query in queries:
            stat_spec = query["MetricStat"]
            metric = stat_spec["Metric"]
            key = (metric["Namespace"], metric["MetricName"],
                   frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", [])))
            delta = timedelta(seconds=int(stat_spec["Period"]))
            buckets: dict[int, list[Any]] = {}
            for md in index.get(key, []):
                if not start_time <= md.timestamp < end_time:
                    continue
                if stat_spec.get("Unit") and md.unit != stat_spec["Unit"]:
                    continue
                buckets.setdefault(int((md.timestamp - start_time) / delta), []).append(md)
            timestamps, values = [], []
            for n in sorted(buckets, reverse=scan_by == "TimestampDescending"):
                stats = cw.Statistics([stat_spec["Stat"]], start_time + n * delta)
                stats.metric_data = buckets[n]
                timestamps.append(stats.timestamp)
                values.append(stats.get_statistics_for_type(stat_spec["Stat"]))
            if query.get("ReturnData", True):
                results.append({"id": query["Id"], "label": query.get("Label") or
                                f"{metric['MetricName']} {stat_spec['Stat']}", "values": values,
                                "timestamps": timestamps, "status_code": "Complete"})
        return results

    setattr(cw, "are_dimensions_same", same_dimensions)  # noqa: B010 - patching a module is the point
    setattr(cw.CloudWatchBackend, "get_filtered_metrics", get_filtered_metrics)  # noqa: B010
    setattr(cw.CloudWatchBackend, "get_metric_data", get_metric_data)  # noqa: B010
    setattr(cw, "_cost_janitor_patched", True)  # noqa: B010


def _patch_ssm() -> None:
    """moto's SendCommand adds every instance in the account when the command has no Targets (AWS adds none)."""
    from moto.ssm import models as ssm

    original = ssm.Command._get_instance_ids_from_targets
    if getattr(original, "_cost_janitor_patched", False):
        return

    def from_targets(self: Any) -> list[str]:
        return original(self) if self.targets else []

    setattr(from_targets, "_cost_janitor_patched", True)  # noqa: B010
    setattr(ssm.Command, "_get_instance_ids_from_targets", from_targets)  # noqa: B010


S3_DEFAULT_MIN_OBJECT_SIZE = "all_storage_classes_128K"


_S3_CLASS_ORDER = ("STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")


def _s3_lifecycle_problem(rules: list[dict[str, Any]]) -> tuple[str, str] | None:
    """(error code, message) S3 answers a PutBucketLifecycleConfiguration with, or None when S3 accepts it. Rules
    as xmltodict parses the request body (values are strings; one Transition is a dict, several a list)."""
    if any("Filter" in r for r in rules) and any("Prefix" in r for r in rules):
        return "InvalidRequest", "Filter element can only be used in Lifecycle V2."
    for rule in rules:
        if len(rule.get("ID") or "") > 255:
            return "InvalidArgument", "ID length should not exceed allowed limit of 255"
        raw = rule.get("Transition") or []
        steps = sorted((int(t["Days"]), str(t["StorageClass"])) for t in (raw if isinstance(raw, list) else [raw])
                       if t.get("Days") is not None)
        ia_days = None
        for n, (days, storage_class) in enumerate(steps):
            if storage_class in ("STANDARD_IA", "ONEZONE_IA"):
                if days < 30:
                    return "InvalidArgument", (f"'Days' in Transition action must be greater than or equal to 30 "
                                               f"for storageClass '{storage_class}'")
                ia_days = days if ia_days is None else ia_days
            if storage_class in ("GLACIER", "DEEP_ARCHIVE") and ia_days is not None and days < ia_days + 30:
                return "InvalidArgument", (f"'Days' in the Transition action for StorageClass '{storage_class}' "
                                           "must be 30 days more than in the Transition action for the "
                                           "Infrequent Access storage class")
            if n and _S3_CLASS_ORDER.index(storage_class) <= _S3_CLASS_ORDER.index(steps[n - 1][1]):
                return "InvalidArgument", (f"Transition to '{storage_class}' after '{steps[n - 1][1]}' is not "
                                           "supported: transitions go to colder storage classes only")
    return None


def _patch_ec2_tags() -> None:
    """CreateTags / DeleteTags calls on an instance that is not in this region fail as on EC2 (moto tags any id, so
    a write made in the wrong region looked like it worked). Only the API calls: moto tags internally too."""
    from moto.ec2.exceptions import InvalidInstanceIdError
    from moto.ec2.responses.tags import TagResponse

    if getattr(TagResponse, "_cost_janitor_patched", False):
        return

    def checked(original: Any) -> Any:
        def call(self: Any) -> Any:
            ids = self._get_param("Resources", [])
            missing = [r for r in ids if r.startswith("i-") and self.ec2_backend.get_instance_by_id(r) is None]
            if missing:
                raise InvalidInstanceIdError(missing)
            return original(self)

        return call

    setattr(TagResponse, "create_tags", checked(TagResponse.create_tags))  # noqa: B010
    setattr(TagResponse, "delete_tags", checked(TagResponse.delete_tags))  # noqa: B010
    setattr(TagResponse, "_cost_janitor_patched", True)  # noqa: B010

    # A stopped instance started again gets a new LaunchTime, as on EC2 (moto kept the first launch's): the sweep
    # reads a restart's time from it.
    from moto.core.utils import utcnow
    from moto.ec2.models.instances import Instance

    original_start = Instance.start

    def start(self: Any) -> Any:
        was = self._state.name
        state = original_start(self)
        if was != "running":
            self.launch_time = utcnow()
        return state

    setattr(Instance, "start", start)  # noqa: B010


def _patch_ec2_addresses() -> None:
    """DescribeAddresses reports each address's PublicIpv4Pool ("amazon" for Amazon's pool) and NetworkBorderGroup
    (the region's own), as EC2 does (the Address type of the EC2 API reference); moto left both out, and the
    addresses family cannot tell a billed address from a BYOIP one without the pool."""
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress

    if getattr(ElasticAddress, "_cost_janitor_patched", False):
        return
    setattr(ElasticAddress, "public_ipv4_pool", property(lambda self: "amazon"))  # noqa: B010
    setattr(ElasticAddress, "network_border_group",  # noqa: B010
            property(lambda self: self.ec2_backend.region_name))
    setattr(ElasticAddress, "_cost_janitor_patched", True)  # noqa: B010


def _patch_ec2_endpoints() -> None:
    """CreateVpcEndpoint (Gateway) refuses a route table of another VPC, as EC2 refuses a route between networks
    ("InvalidParameterValue: route table … and … belong to different networks"), and a route table that already
    routes to the service's prefix list (a second gateway endpoint of one service on one table: RouteAlreadyExists);
    moto accepted both, and the network family depends on creating endpoints on exactly the tables it announced.
    EC2's DryRun is honoured too (moto created the endpoint)."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models import EC2Backend

    if getattr(EC2Backend, "_cost_janitor_endpoints", False):
        return
    original = EC2Backend.create_vpc_endpoint

    def create_vpc_endpoint(self: Any, vpc_id: str, service_name: str, endpoint_type: str | None, *args: Any,
                            **kwargs: Any) -> Any:
        tables = kwargs.get("route_table_ids") if "route_table_ids" in kwargs else (args[1] if len(args) > 1 else [])
        if (endpoint_type or "gateway").lower() == "gateway":
            for table_id in tables or []:
                table = self.get_route_table(table_id)
                if table.vpc_id != vpc_id:
                    raise EC2ClientError("InvalidParameterValue",
                                         f"route table {table_id} and VPC {vpc_id} belong to different networks")
                for e in self.vpc_end_points.values():
                    if e.service_name == service_name and table_id in (e.route_table_ids or []) and \
                            getattr(e, "state", "available") != "deleted":
                        raise EC2ClientError("RouteAlreadyExists", f"route table {table_id} already has a route to "
                                                                   f"the prefix list of {service_name}")
        return original(self, vpc_id, service_name, endpoint_type, *args, **kwargs)

    setattr(EC2Backend, "create_vpc_endpoint", create_vpc_endpoint)  # noqa: B010
    setattr(EC2Backend, "_cost_janitor_endpoints", True)  # noqa: B010

    from moto.ec2.responses.vpcs import VPCs

    answer = VPCs.create_vpc_endpoint

    def dry_run_first(self: Any) -> Any:
        self.error_on_dryrun()
        return answer(self)

    setattr(VPCs, "create_vpc_endpoint", dry_run_first)  # noqa: B010


def _lifecycle_problem(policies: list[dict[str, str]], fs: Any) -> str | None:
    """What EFS refuses in a PutLifecycleConfiguration (Amazon EFS API reference, PutLifecycleConfiguration): more
    than one transition in a LifecyclePolicy object, a transition given twice, TransitionToArchive not later than
    TransitionToIA, Archive on a file system without Elastic throughput and General Purpose performance."""
    import re

    def days(v: str | None) -> int | None:
        found = re.fullmatch(r"AFTER_(\d+)_DAYS?", v or "")
        return int(found.group(1)) if found else None

    seen: dict[str, str] = {}
    for p in policies:
        if len(p) != 1:
            return "each LifecyclePolicy object must have only a single transition"
        [(key, value)] = p.items()
        if key in seen:
            return f"{key} is given more than once"
        seen[key] = value
    archive, ia = days(seen.get("TransitionToArchive")), days(seen.get("TransitionToIA"))
    if archive is not None and ia is not None and archive <= ia:
        return "TransitionToArchive must be later than TransitionToIA"
    if archive is not None and (fs.throughput_mode, fs.performance_mode) != ("elastic", "generalPurpose"):
        return "the Archive storage class needs Elastic throughput and General Purpose performance"
    return None


def _patch_efs() -> None:
    """EFS's PutLifecycleConfiguration rules (_lifecycle_problem), which moto does not check: it stored anything."""
    from moto.efs.exceptions import EFSError
    from moto.efs.models import EFSBackend

    if getattr(EFSBackend, "_cost_janitor_patched", False):
        return
    original = EFSBackend.put_lifecycle_configuration

    def put_lifecycle_configuration(self: Any, file_system_id: str, policies: list[dict[str, str]]) -> None:
        _, found = self.describe_file_systems(file_system_id=file_system_id)
        problem = _lifecycle_problem(policies or [], found[0])
        if problem:
            raise EFSError("BadRequest", problem)
        original(self, file_system_id, policies)

    setattr(EFSBackend, "put_lifecycle_configuration", put_lifecycle_configuration)  # noqa: B010
    setattr(EFSBackend, "_cost_janitor_patched", True)  # noqa: B010


def _ecr_rules_problem(text: str) -> str | None:
    """What ECR refuses in a lifecycle policy beyond moto's schema check ("Lifecycle policy properties in Amazon ECR"):
    rulePriority values given twice, and a tagStatus=any rule that is not the one with the highest rulePriority."""
    rules = json.loads(text).get("rules", [])
    priorities = [r.get("rulePriority") for r in rules]
    if len(set(priorities)) != len(priorities):
        return "each rule must have a unique rulePriority"
    anys = [r["rulePriority"] for r in rules if (r.get("selection") or {}).get("tagStatus") == "any"]
    if anys and max(anys) != max(priorities):
        return "a rule with tagStatus any must have the highest rulePriority"
    return None


def _patch_ecr() -> None:
    """ECR: the lifecycle policy rules moto leaves unchecked (_ecr_rules_problem); imageSizeInBytes as the image's
    layers in the repository (moto answered the config blob's size); lastRecordedPullTime kept on an image (moto has no
    pulls: the tests and the demo set it, as ECR would after pulls)."""
    from moto.ecr.exceptions import InvalidParameterException
    from moto.ecr.models import ECRBackend, Image

    if getattr(ECRBackend, "_cost_janitor_patched", False):
        return
    original = ECRBackend.put_lifecycle_policy

    def put_lifecycle_policy(self: Any, registry_id: str, repository_name: str, lifecycle_policy_text: str) -> Any:
        problem = _ecr_rules_problem(lifecycle_policy_text)
        if problem:
            raise InvalidParameterException(f"Invalid parameter at 'LifecyclePolicyText' failed to satisfy "
                                            f"constraint: '{problem}'")
        return original(self, registry_id, repository_name, lifecycle_policy_text)

    def size(self: Any) -> int | None:
        manifest = json.loads(self.image_manifest)
        layers = manifest.get("layers")
        return sum(int(layer.get("size", 0)) for layer in layers) if layers is not None else None

    setattr(ECRBackend, "put_lifecycle_policy", put_lifecycle_policy)  # noqa: B010
    setattr(Image, "get_image_size_in_bytes", size)  # noqa: B010
    setattr(Image, "last_recorded_pull_time", None)  # noqa: B010
    setattr(ECRBackend, "_cost_janitor_patched", True)  # noqa: B010


def _patch_fsx() -> None:
    """FSx for Lustre as the FSx API reference and User Guide describe it, where moto differs: DescribeFileSystems
    reports CreationTime, Lifecycle and OwnerId (moto left them out); CreateBackup of a scratch file system is refused
    (backups are supported on persistent file systems only); DeleteFileSystem with LustreConfiguration
    SkipFinalBackup false takes the final backup, with its FinalBackupTags, and answers its ID (moto took none), and is
    refused on a scratch file system. A backup names its file system as the Backup type does (FileSystem, with its
    FileSystemId; moto's FileSystemId field is not in the shape and was dropped)."""
    import time

    from moto.core.exceptions import JsonRESTError
    from moto.fsx.models import Backup, FileSystem, FSxBackend

    if getattr(FSxBackend, "_cost_janitor_patched", False):
        return
    original_init, original_dict = FileSystem.__init__, FileSystem.to_dict
    original_backup, original_delete = FSxBackend.create_backup, FSxBackend.delete_file_system

    def init(self: Any, account_id: str, *args: Any, **kwargs: Any) -> None:
        original_init(self, account_id, *args, **kwargs)
        self.creation_time, self.owner_id = time.time(), account_id

    def to_dict(self: Any) -> dict[str, Any]:
        return {**original_dict(self), "CreationTime": self.creation_time, "Lifecycle": "AVAILABLE",
                "OwnerId": self.owner_id}

    def scratch(backend: Any, file_system_id: str) -> bool:
        fs = backend.file_systems.get(file_system_id)
        return bool(fs and str((fs.lustre_configuration or {}).get("DeploymentType", "")).startswith("SCRATCH"))

    def create_backup(self: Any, file_system_id: str, *args: Any, **kwargs: Any) -> Any:
        if scratch(self, file_system_id):
            raise JsonRESTError("BadRequest", "Backups are not supported for scratch file systems")
        return original_backup(self, file_system_id, *args, **kwargs)

    def delete_file_system(self: Any, file_system_id: str, client_request_token: str, windows_configuration: Any,
                           lustre_configuration: Any, open_zfs_configuration: Any) -> Any:
        final = lustre_configuration is not None and lustre_configuration.get("SkipFinalBackup") is False
        backup = None
        if final:
            if scratch(self, file_system_id):
                raise JsonRESTError("BadRequest", "Final backups are not supported for scratch file systems")
            backup = create_backup(self, file_system_id, None, None, lustre_configuration.get("FinalBackupTags"))
        answer = original_delete(self, file_system_id, client_request_token, windows_configuration,
                                 lustre_configuration, open_zfs_configuration)
        if backup is not None and answer[3] is not None:
            answer[3]["FinalBackupId"], answer[3]["FinalBackupTags"] = (
                backup.backup_id, lustre_configuration.get("FinalBackupTags") or [])
        return answer

    original_backup_dict = Backup.to_dict

    def backup_dict(self: Any) -> dict[str, Any]:
        return {**original_backup_dict(self), "FileSystem": {"FileSystemId": self.file_system_id,
                                                             "FileSystemType": "LUSTRE"}}

    setattr(Backup, "to_dict", backup_dict)  # noqa: B010
    setattr(FileSystem, "__init__", init)  # noqa: B010
    setattr(FileSystem, "to_dict", to_dict)  # noqa: B010
    setattr(FSxBackend, "create_backup", create_backup)  # noqa: B010
    setattr(FSxBackend, "delete_file_system", delete_file_system)  # noqa: B010
    setattr(FSxBackend, "_cost_janitor_patched", True)  # noqa: B010


RECYCLE_BIN: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (access key, region) → its retention rules
PRICE_LIST: list[dict[str, Any]] = []  # the Price List API's products (fixtures the tests and the demo add)
# Cost Explorer's Savings Plans answers (moto has neither operation): "utilization" → GetSavingsPlansUtilization's
# Total (absent: the account has no Savings Plan, and Cost Explorer answers DataUnavailableException), "coverage" →
# (region or None, instance family or None) → that filter's SavingsPlansCoverageData. Fixtures the tests add.
SAVINGS_PLANS: dict[str, Any] = {}
# Cost Explorer's Reserved Instances answers: "utilization" → GetReservationUtilization's Total (absent: no
# reservation, DataUnavailableException), "coverage" → (region, family) → that filter's Coverage (CoverageHours...)
RESERVATIONS: dict[str, Any] = {}
# Cost Optimization Hub (moto has none): "enrolled" (absent: not enrolled — answered AccessDeniedException, the
# emulator's assumption of what an account that never opted in gets) and "items", its Recommendation objects
OPTIMIZATION_HUB: dict[str, Any] = {}
# Cost Explorer's resource-level data (moto has no GetCostAndUsageWithResources): "enabled" (absent: the account never
# turned it on — answered DataUnavailableException, the emulator's assumption of what AWS answers then) and "daily",
# resource ID → {day (ISO): amortized USD}. Fixtures the tests add.
RESOURCE_COSTS: dict[str, Any] = {}
RESOURCE_DAYS = 14  # "The range must be within the last 14 days" (GetCostAndUsageWithResources, TimePeriod)
# the dimensions GetSavingsPlansCoverage filters on (its API reference); the family under both of its spellings
COVERAGE_DIMENSIONS = {"LINKED_ACCOUNT", "REGION", "SERVICE", "INSTANCE_FAMILY", "INSTANCE_TYPE_FAMILY"}


def _optimization_hub(target: str, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """ListRecommendations (JSON 1.0, CostOptimizationHubService.ListRecommendations): the items whose resourceId and
    currentResourceType the filter names; an account not enrolled is refused."""
    if not target.endswith("ListRecommendations"):
        return "400 Bad Request", {"__type": "ValidationException", "message": f"the emulator has no {target}"}
    if not OPTIMIZATION_HUB.get("enrolled"):
        return "400 Bad Request", {"__type": "AccessDeniedException",
                                   "message": "the account is not enrolled in Cost Optimization Hub"}
    where = request.get("filter") or {}
    ids, types = set(where.get("resourceIds") or []), set(where.get("resourceTypes") or [])
    return "200 OK", {"items": [r for r in OPTIMIZATION_HUB.get("items", []) if (not ids or r["resourceId"] in ids)
                                and (not types or r["currentResourceType"] in types)]}


def _resource_costs(request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """GetCostAndUsageWithResources (JSON 1.1, AWSInsightsIndexService.*): TimePeriod within the last 14 days, DAILY
    (the emulator's only granularity), the RESOURCE_ID values of the filter's And, grouped by RESOURCE_ID; refused
    where resource-level data is not turned on."""
    from datetime import UTC, date, datetime, timedelta

    def refuse(code: str, message: str) -> tuple[str, dict[str, Any]]:
        return "400 Bad Request", {"__type": code, "message": message}

    if not RESOURCE_COSTS.get("enabled"):
        return refuse("DataUnavailableException", "resource-level data is not enabled for this account")
    period = request.get("TimePeriod") or {}
    start, end = date.fromisoformat(period["Start"]), date.fromisoformat(period["End"])
    if start < datetime.now(UTC).date() - timedelta(days=RESOURCE_DAYS) or end <= start:
        return refuse("ValidationException", "the start date cannot be earlier than 14 days ago")
    if request.get("Granularity") != "DAILY":
        return refuse("ValidationException", "the emulator answers DAILY granularity only")
    terms = (request.get("Filter") or {}).get("And") or [request.get("Filter") or {}]
    ids = {v for t in terms if (t.get("Dimensions") or {}).get("Key") == "RESOURCE_ID"
           for v in t["Dimensions"]["Values"]}
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    return "200 OK", {"ResultsByTime": [{
        "TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}, "Estimated": False,
        "Total": {}, "Groups": [{"Keys": [rid], "Metrics": {"AmortizedCost": {"Amount": f"{costs[d.isoformat()]:.6f}",
                                                                              "Unit": "USD"}}}
                                for rid, costs in sorted(RESOURCE_COSTS.get("daily", {}).items())
                                if rid in ids and d.isoformat() in costs]} for d in days]}


def _savings_plans(target: str, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """GetSavingsPlansUtilization / GetSavingsPlansCoverage and GetReservationUtilization / GetReservationCoverage
    as botocore's ce model has them (JSON 1.1, AWSInsightsIndexService.*): TimePeriod required; coverage filters
    only on documented dimensions, joined by And; MONTHLY or DAILY granularity."""
    def refuse(code: str, message: str) -> tuple[str, dict[str, Any]]:
        return "400 Bad Request", {"__type": code, "message": message}

    period = request.get("TimePeriod") or {}
    if not period.get("Start") or not period.get("End"):
        return refuse("ValidationException", "TimePeriod with Start and End is required")
    if target.endswith("GetReservationUtilization"):
        if "utilization" not in RESERVATIONS:
            return refuse("DataUnavailableException", "Reserved Instances utilization data is not available for the "
                          "account (it has no reservation)")
        return "200 OK", {"UtilizationsByTime": [], "Total": RESERVATIONS["utilization"]}
    if target.endswith("GetSavingsPlansUtilization"):
        if "utilization" not in SAVINGS_PLANS:
            return refuse("DataUnavailableException", "Savings Plans utilization data is not available for the "
                          "account (it has no Savings Plan)")
        return "200 OK", {"SavingsPlansUtilizationsByTime": [], "Total": SAVINGS_PLANS["utilization"]}
    if request.get("Granularity", "MONTHLY") not in ("MONTHLY", "DAILY"):
        return refuse("ValidationException", "Granularity must be MONTHLY or DAILY")
    where = request.get("Filter") or {}
    terms = where.get("And") or ([where] if where else [])
    wanted: dict[str, str] = {}
    for term in terms:
        dims = term.get("Dimensions") or {}
        if set(term) - {"Dimensions"} or dims.get("Key") not in COVERAGE_DIMENSIONS or len(dims.get("Values", [])) != 1:
            return refuse("ValidationException", f"unsupported coverage filter {term} (dimensions: "
                          f"{', '.join(sorted(COVERAGE_DIMENSIONS))}, one value each, joined by And)")
        wanted["family" if "FAMILY" in dims["Key"] else dims["Key"].lower()] = dims["Values"][0]
    if target.endswith("GetReservationCoverage"):
        data = RESERVATIONS.get("coverage", {}).get((wanted.get("region"), wanted.get("family")))
        return "200 OK", {"CoveragesByTime": [] if data is None else [
            {"TimePeriod": {"Start": period["Start"], "End": period["End"]}, "Groups": [], "Total": data}]}
    data = SAVINGS_PLANS.get("coverage", {}).get((wanted.get("region"), wanted.get("family")))
    return "200 OK", {"SavingsPlansCoverages": [] if data is None else [
        {"Attributes": {}, "Coverage": data, "TimePeriod": {"Start": period["Start"], "End": period["End"]}}]}


def _get_products(request: dict[str, Any]) -> dict[str, Any]:
    """GetProducts as botocore's pricing model has it (JSON 1.1, AWSPriceListService.GetProducts): the products of
    ServiceCode whose attributes match every filter — TERM_MATCH and EQUALS the whole value, CONTAINS a substring,
    ANY_OF / NONE_OF a comma-separated list (FilterType, Price List API reference) — each as a JSON string in
    PriceList, paged by MaxResults / NextToken. A filter names an attribute or the product's own productFamily / sku;
    a name the product does not have matches nothing, as on AWS."""
    tests: dict[str, Callable[[str, str], bool]] = {
        "TERM_MATCH": lambda have, v: have == v, "EQUALS": lambda have, v: have == v,
        "CONTAINS": lambda have, v: v in have, "ANY_OF": lambda have, v: have in v.split(","),
        "NONE_OF": lambda have, v: have not in v.split(",")}
    filters = request.get("Filters", [])  # botocore refuses any other Type before sending

    def field(product: dict[str, Any], name: str) -> Any:
        return product["attributes"].get(name, product.get(name) if name in ("productFamily", "sku") else None)

    def matches(product: dict[str, Any], f: dict[str, str]) -> bool:
        have = field(product, f["Field"])
        return have is not None and tests[f["Type"]](str(have), str(f["Value"]))

    found = [p for p in PRICE_LIST if p.get("serviceCode") == request.get("ServiceCode") and all(
        matches(p["product"], f) for f in filters)]
    start, size = int(request.get("NextToken") or 0), int(request.get("MaxResults") or 100)
    page = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(p) for p in found[start:start + size]]}
    return {**page, **({"NextToken": str(start + size)} if start + size < len(found) else {})}


# EC2 request throttling (EC2 API reference, "Request throttling for the Amazon EC2 API"): a token bucket per API,
# account and region; a non-mutating action's (DescribeHosts in its example) holds 100 tokens and refills 20 a second.
# Over it: HTTP 503, RequestLimitExceeded (which botocore's retry modes retry). Only the Describe* actions are
# bucketed here (the page's other buckets are not read into the emulator). Off unless a test or bench turns it on
# (LocalAws.throttle): the suite's seeding would otherwise spend its time in backoffs.
THROTTLING = {"ec2": False, "cloudwatch": False}
THROTTLED = {"ec2": 0, "cloudwatch": 0}  # requests refused as throttled (what a test asserts was met)
# CloudWatch's API quotas ("CloudWatch service quotas", Amazon CloudWatch User Guide), per account and Region:
# GetMetricData 50 TPS (without Metrics Insights queries), ListMetrics 25 TPS, PutMetricData 500 TPS; and
# GetMetricData's data points per second — "180,000 ... if the StartTime used in the API request is less than or
# equal to three hours from current time. 396,000 DPS if the StartTime is more than three hours from current time",
# estimated from "the requested time range, period" whatever the series hold. Over it: HTTP 400 Throttling, "Rate
# exceeded" (AWS Knowledge Center, "400 ThrottlingException" for CloudWatch), in the JSON protocol this botocore
# speaks. Each bucket holds one second's worth.
CLOUDWATCH_TPS = {"GetMetricData": 50.0, "ListMetrics": 25.0, "PutMetricData": 500.0}
CLOUDWATCH_DPS_RECENT, CLOUDWATCH_DPS_OLDER = 180_000.0, 396_000.0
_CW_BUCKETS: dict[tuple[str, ...], TokenBucket] = {}
CW_THROTTLED = (b'{"__type": "com.amazonaws.cloudwatch#ThrottlingException", "message": "Rate exceeded"}')
EC2_DESCRIBE_BUCKET, EC2_DESCRIBE_REFILL = 100.0, 20.0
_EC2_BUCKETS: dict[tuple[str, str, str], TokenBucket] = {}
EC2_THROTTLED = (b'<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>RequestLimitExceeded</Code>'
                 b"<Message>Request limit exceeded.</Message></Error></Errors><RequestID>throttled</RequestID>"
                 b"</Response>")


def _cloudwatch_throttled(key: str, region: str, action: str, request: dict[str, Any]) -> bool:
    """Whether CloudWatch refuses this request: its action's TPS bucket, and for GetMetricData the data points it
    asks for (each query's time range ÷ its period) against the DPS bucket its StartTime selects."""
    import time

    now = time.monotonic()
    tps = CLOUDWATCH_TPS.get(action)
    if tps is None:
        return False
    if _CW_BUCKETS.setdefault((key, region, action), TokenBucket(tps, tps)).take(now):
        THROTTLED["cloudwatch"] += 1
        return True
    if action != "GetMetricData":
        return False
    start, end = float(request.get("StartTime") or 0), float(request.get("EndTime") or 0)
    points = sum(max(1.0, (end - start) / int((q.get("MetricStat") or {}).get("Period") or 60))
                 for q in request.get("MetricDataQueries") or [] if "MetricStat" in q)
    recent = time.time() - start <= 3 * 3600
    rate = CLOUDWATCH_DPS_RECENT if recent else CLOUDWATCH_DPS_OLDER
    bucket = _CW_BUCKETS.setdefault((key, region, "dps", str(recent)), TokenBucket(rate, rate))
    if bucket.take(now, points):
        THROTTLED["cloudwatch"] += 1
        return True
    return False


def _ec2_throttled(key: str, region: str, action: str) -> bool:
    import time

    if not action.startswith("Describe"):
        return False
    bucket = _EC2_BUCKETS.setdefault((key, region, action), TokenBucket(EC2_DESCRIBE_REFILL, EC2_DESCRIBE_BUCKET))
    if bucket.take(time.monotonic()):
        THROTTLED["ec2"] += 1
        return True
    return False


def _patch_recycle_bin() -> None:
    """moto has no Recycle Bin (rbin) and no Price List API (pricing): stand-ins inside the server answer rbin's
    ListRules and CreateRule (REST-JSON, as botocore's rbin model has them: POST /list-rules, POST /rules) from
    RECYCLE_BIN, per caller and region, and pricing's GetProducts from PRICE_LIST (_get_products); moto's reset clears
    both. The janitor reads only ListRules and GetProducts; the tests and the demo create the rest."""
    import uuid

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    if getattr(DomainDispatcherApplication, "_cost_janitor_rbin", False):
        return
    original = DomainDispatcherApplication.__call__

    def answer(start_response: Any, status: str, body: dict[str, Any]) -> list[bytes]:
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]

    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/moto-api/reset"):
            RECYCLE_BIN.clear()
            PRICE_LIST.clear()
            SAVINGS_PLANS.clear()
            RESERVATIONS.clear()
            OPTIMIZATION_HUB.clear()
            RESOURCE_COSTS.clear()
        scope = (environ.get("HTTP_AUTHORIZATION") or "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        if THROTTLING["ec2"] and len(scope) >= 4 and scope[3] == "ec2":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size) if size else b""
            environ["wsgi.input"] = io.BytesIO(raw)  # moto reads it again
            action = (parse_qs(raw.decode()).get("Action") or [""])[0]
            if _ec2_throttled(scope[0], scope[2], action):
                start_response("503 Service Unavailable", [("Content-Type", "text/xml")])
                return [EC2_THROTTLED]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if THROTTLING["cloudwatch"] and len(scope) >= 4 and scope[3] == "monitoring":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(size) if size else b""
            environ["wsgi.input"] = io.BytesIO(raw)  # moto reads it again
            body = json.loads(raw or b"{}") if target else {}
            action = target.rsplit(".", 1)[-1] if target else (parse_qs(raw.decode()).get("Action") or [""])[0]
            if _cloudwatch_throttled(scope[0], scope[2], action, body):
                start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.0"),
                                                   ("x-amzn-query-error", "Throttling;Sender")])
                return [CW_THROTTLED]
        plans = len(scope) >= 4 and scope[3] == "ce" and target.endswith((
            "GetSavingsPlansUtilization", "GetSavingsPlansCoverage", "GetReservationUtilization",
            "GetReservationCoverage"))
        resources = len(scope) >= 4 and scope[3] == "ce" and target.endswith("GetCostAndUsageWithResources")
        if len(scope) < 4 or (scope[3] not in ("rbin", "pricing", "cost-optimization-hub") and not plans
                              and not resources):
            return original(self, environ, start_response)
        key, region = scope[0], scope[2]
        size = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(size) or b"{}") if size else {}
        if scope[3] == "pricing":
            return answer(start_response, "200 OK", _get_products(request))
        if plans:
            return answer(start_response, *_savings_plans(target, request))
        if resources:
            return answer(start_response, *_resource_costs(request))
        if scope[3] == "cost-optimization-hub":
            return answer(start_response, *_optimization_hub(target, request))
        rules = RECYCLE_BIN.setdefault((key, region), [])
        if path == "/list-rules":
            wanted = request.get("ResourceType")
            return answer(start_response, "200 OK", {"Rules": [
                {k: r[k] for k in ("Identifier", "Description", "RetentionPeriod", "LockState", "RuleArn") if k in r}
                for r in rules if r["ResourceType"] == wanted]})
        if path == "/rules" and environ.get("REQUEST_METHOD") == "POST":
            identifier = uuid.uuid4().hex[:11]
            rule = {**request, "Identifier": identifier, "Status": "available", "LockState": "unlocked",
                    "RuleArn": f"arn:aws:rbin:{region}:123456789012:rule/{identifier}"}
            rules.append(rule)
            return answer(start_response, "201 Created", rule)
        return answer(start_response, "404 Not Found", {"message": f"the emulator's Recycle Bin has no {path}"})

    setattr(DomainDispatcherApplication, "__call__", call)  # noqa: B010
    setattr(DomainDispatcherApplication, "_cost_janitor_rbin", True)  # noqa: B010


def _patch_launch_templates() -> None:
    """DescribeLaunchTemplates and DescribeLaunchTemplateVersions page with NextToken, as EC2 does; moto cut both at
    15 results (or MaxResults) and gave no NextToken, so the 16th launch template — and the image it uses — was never
    seen (bench/amis.py found it: an AMI a launch template uses would have looked unused)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.launch_templates import LaunchTemplates

    if getattr(LaunchTemplates, "_cost_janitor_patched", False):
        return

    def page(self: Any, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        start = int(self._get_param("NextToken") or 0)
        size = self._get_int_param("MaxResults", 15)
        more = {"NextToken": str(start + size)} if start + size < len(items) else {}
        return items[start:start + size], more

    def describe_launch_templates(self: Any) -> Any:
        self.error_on_dryrun()
        templates = self.ec2_backend.describe_launch_templates(
            template_names=self._get_param("LaunchTemplateNames", []),
            template_ids=self._get_param("LaunchTemplateIds", []), filters=self._filters_from_querystring())
        shown, more = page(self, list(templates))
        return ActionResult({"LaunchTemplates": [{
            "CreateTime": t.create_time, "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
            "DefaultVersionNumber": t.default_version_number, "LatestVersionNumber": t.latest_version_number,
            "LaunchTemplateId": t.id, "LaunchTemplateName": t.name, "Tags": t.tags} for t in shown], **more})

    def describe_launch_template_versions(self: Any) -> Any:
        self.error_on_dryrun()
        everything = self.ec2_backend.describe_launch_template_versions(
            template_name=self._get_param("LaunchTemplateName"), template_id=self._get_param("LaunchTemplateId"),
            versions=self._get_param("Versions", []), min_version=self._get_int_param("MinVersion"),
            max_version=self._get_int_param("MaxVersion"), max_results=10 ** 9)
        shown, more = page(self, list(everything))
        return ActionResult({"LaunchTemplateVersions": [{
            "CreateTime": v.create_time, "CreatedBy": f"arn:{self.partition}:iam::{self.current_account}:root",
            "DefaultVersion": t.is_default(v), "LaunchTemplateData": v.data, "LaunchTemplateId": t.id,
            "LaunchTemplateName": t.name, "VersionDescription": v.description, "VersionNumber": v.number}
            for t, v in shown], **more})

    setattr(LaunchTemplates, "describe_launch_templates", describe_launch_templates)  # noqa: B010
    setattr(LaunchTemplates, "describe_launch_template_versions", describe_launch_template_versions)  # noqa: B010
    setattr(LaunchTemplates, "_cost_janitor_patched", True)  # noqa: B010


def _scaling_problem(config: dict[str, int]) -> str | None:
    """EKS refuses a scaling config whose minSize exceeds desiredSize or whose desiredSize exceeds maxSize
    (NodegroupScalingConfig, EKS API reference: desiredSize is "The current number of nodes that the managed node
    group should maintain", between minSize and maxSize; maxSize at least 1)."""
    low, want, high = config.get("minSize"), config.get("desiredSize"), config.get("maxSize")
    if high is not None and high < 1:
        return "maxSize must be at least 1"
    if low is not None and want is not None and low > want:
        return f"Minimum capacity {low} can't be greater than desired size {want}"
    if want is not None and high is not None and want > high:
        return f"Desired capacity {want} can't be greater than max size {high}"
    return None


def _patch_eks() -> None:
    """EKS as strict as AWS where the EKS family depends on it: a scaling config out of order is refused (moto
    accepted minSize > desiredSize), and TagResource / UntagResource / ListTagsForResource work on managed node
    groups (moto served clusters only; EKS tags node groups: "You can tag ... Amazon EKS clusters, managed node
    groups, Fargate profiles", EKS User Guide, "Organize Amazon EKS resources with tags")."""
    from moto.eks.exceptions import InvalidParameterException
    from moto.eks.models import EKSBackend

    if getattr(EKSBackend, "_cost_janitor_patched", False):
        return
    create, update = EKSBackend.create_nodegroup, EKSBackend.update_nodegroup_config
    tag, untag, tags_of = EKSBackend.tag_resource, EKSBackend.untag_resource, EKSBackend.list_tags_for_resource

    def refuse(message: str) -> None:
        raise InvalidParameterException(message=message)

    def create_nodegroup(self: Any, *args: Any, **kwargs: Any) -> Any:
        problem = _scaling_problem(kwargs.get("scaling_config") or {})
        if problem:
            refuse(problem)
        return create(self, *args, **kwargs)

    def update_nodegroup_config(self: Any, cluster_name: str, nodegroup_name: str, *args: Any, **kwargs: Any) -> Any:
        group = self.clusters.get(cluster_name) and self.clusters[cluster_name].nodegroups.get(nodegroup_name)
        if group is not None and kwargs.get("scaling_config"):
            problem = _scaling_problem({**group.scaling_config, **kwargs["scaling_config"]})
            if problem:
                refuse(problem)
        return update(self, cluster_name, nodegroup_name, *args, **kwargs)

    def _group(self: Any, resource_arn: str) -> Any:
        return next((g for c in self.clusters.values() for g in c.nodegroups.values() if g.arn == resource_arn),
                    None)

    def tag_resource(self: Any, resource_arn: str, tags: dict[str, str]) -> None:
        group = _group(self, resource_arn)
        if group is None:
            return tag(self, resource_arn, tags)
        group.tags.update(tags)
        return None

    def untag_resource(self: Any, resource_arn: str, tag_keys: list[str]) -> None:
        group = _group(self, resource_arn)
        if group is None:
            return untag(self, resource_arn, tag_keys)
        for key in tag_keys if isinstance(tag_keys, list) else [tag_keys]:
            group.tags.pop(key, None)
        return None

    def list_tags_for_resource(self: Any, resource_arn: str) -> dict[str, str]:
        group = _group(self, resource_arn)
        return tags_of(self, resource_arn) if group is None else dict(group.tags)

    for name, fn in (("create_nodegroup", create_nodegroup), ("update_nodegroup_config", update_nodegroup_config),
                     ("tag_resource", tag_resource), ("untag_resource", untag_resource),
                     ("list_tags_for_resource", list_tags_for_resource)):
        setattr(EKSBackend, name, fn)
    _tagging_api_serves_eks()
    setattr(EKSBackend, "_cost_janitor_patched", True)  # noqa: B010


def _tagging_api_serves_eks() -> None:
    """The Resource Groups Tagging API tags EKS resources (its supported services include Amazon EKS); moto's
    answered "Service not yet supported" for them, so the owners' answers (tag:TagResources) could not reach a node
    group. TagResources / UntagResources hand an EKS ARN to the EKS backend, as AWS does."""
    from moto.eks.models import eks_backends
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend as Tagging

    tag_all, untag_all = Tagging.tag_resources, Tagging.untag_resources

    def split(self: Any, arns: list[str]) -> tuple[Any, list[str], list[str]]:
        eks = [a for a in arns if a.split(":")[2:3] == ["eks"]]
        return eks_backends[self.account_id][self.region_name], eks, [a for a in arns if a not in eks]

    def each(arns: list[str], change: Any) -> dict[str, dict[str, Any]]:
        """The EKS backend's not-found, as the tagging API reports failures: per resource, in the result."""
        failed: dict[str, dict[str, Any]] = {}
        for arn in arns:
            try:
                change(arn)
            except Exception as exc:
                failed[arn] = {"StatusCode": 404, "ErrorCode": "InvalidParameterException", "ErrorMessage": str(exc)}
        return failed

    def tag_resources(self: Any, resource_arns: list[str], tags: dict[str, str]) -> dict[str, dict[str, Any]]:
        backend, eks, rest = split(self, resource_arns)
        return {**(tag_all(self, rest, tags) if rest else {}), **each(eks, lambda a: backend.tag_resource(a, tags))}

    def untag_resources(self: Any, resource_arn_list: list[str], tag_keys: list[str]) -> dict[str, dict[str, Any]]:
        backend, eks, rest = split(self, resource_arn_list)
        return {**(untag_all(self, rest, tag_keys) if rest else {}),
                **each(eks, lambda a: backend.untag_resource(a, tag_keys))}

    setattr(Tagging, "tag_resources", tag_resources)  # noqa: B010
    setattr(Tagging, "untag_resources", untag_resources)  # noqa: B010


def _patch_s3() -> None:
    from moto.s3 import responses
    from moto.s3.exceptions import S3ClientError

    cls = responses.S3Response
    if getattr(cls, "_cost_janitor_patched", False):
        return
    original_put, original_get = cls._bucket_response_put, cls.get_bucket_lifecycle

    def put(self: Any, request: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
        if "lifecycle" not in querystring:
            return original_put(self, request, bucket_name, querystring)
        import xmltodict  # type: ignore[import-untyped]

        config = xmltodict.parse(self.body)["LifecycleConfiguration"] or {}
        rules = config.get("Rule") or []
        problem = _s3_lifecycle_problem(rules if isinstance(rules, list) else [rules])
        if problem:
            raise S3ClientError(*problem)
        result = original_put(self, request, bucket_name, querystring)
        self.backend.get_bucket(bucket_name).cost_janitor_min_object_size = request.headers.get(
            "x-amz-transition-default-minimum-object-size") or S3_DEFAULT_MIN_OBJECT_SIZE
        return result

    def get(self: Any) -> Any:
        status, headers, body = original_get(self)
        headers["x-amz-transition-default-minimum-object-size"] = getattr(
            self.backend.get_bucket(self.bucket_name), "cost_janitor_min_object_size", S3_DEFAULT_MIN_OBJECT_SIZE)
        return status, headers, body

    setattr(cls, "_bucket_response_put", put)  # noqa: B010
    setattr(cls, "get_bucket_lifecycle", get)  # noqa: B010
    setattr(cls, "_cost_janitor_patched", True)  # noqa: B010


ML_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


def _check_endpoint_key(account: str, region: str, key_id: str) -> None:
    """CreateEndpoint on a config whose volumes a customer KMS key encrypts: "The KMS key policy must grant permission
    to the IAM role that you specify in your CreateEndpoint" (CreateEndpointConfig, KmsKeyId). SageMaker creates a
    grant with the caller's credentials, so the key policy must let the caller's account (IAM) or the caller
    kms:CreateGrant; moto checked nothing. Not modelled: which role in the account — the IAM guard checks that the
    caller's own policy allows kms:CreateGrant and kms:DescribeKey."""
    import fnmatch

    from moto.kms.models import kms_backends
    from moto.sagemaker.exceptions import ValidationError

    backend = kms_backends[account][region]
    try:
        key = backend.describe_key(key_id)
    except KeyError:
        raise ValidationError(message=f"KMS key {key_id} not found") from None
    statements = json.loads(key.policy).get("Statement", [])

    def grants(st: dict[str, Any]) -> bool:
        actions = st.get("Action", [])
        principals = (st.get("Principal") or {})
        principals = principals.get("AWS", []) if isinstance(principals, dict) else principals
        return st.get("Effect") == "Allow" and any(fnmatch.fnmatch("kms:CreateGrant", a) for a in (
            actions if isinstance(actions, list) else [actions])) and any(
            p in ("*", f"arn:aws:iam::{account}:root", account) for p in (
                principals if isinstance(principals, list) else [principals]))

    if not any(grants(st) for st in statements):
        raise _SageMakerAccessDenied(f"SageMaker could not create a grant on KMS key {key.arn}: the key policy does "
                                     "not allow the caller kms:CreateGrant")


class _SageMakerAccessDenied(Exception):
    """Raised inside moto's SageMaker backend; mapped to AccessDeniedException by the patched create_endpoint."""


def _patch_sagemaker() -> None:
    """SageMaker as AWS answers it where the janitor depends on it: CreateEndpoint refuses a name that exists (moto
    replaced the endpoint silently, so a second restore looked fine); AddTags replaces a key's value (moto appended
    a second tag with the same key, so a keep written twice read back either date); a new notebook instance comes
    into service (moto left it Pending forever) and starting or stopping one updates its LastModifiedTime (moto
    never changed it, and the janitor reads time in service from it); notebook and hosting instance types are any
    ml.* type (moto's lists predate g5, g6 and inf2). Studio's apps and UpdateDomain, which moto lacks, are added
    (_add_studio)."""
    from moto.core.utils import utcnow
    from moto.sagemaker import models as sm
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.utils import arn_formatter

    if getattr(sm, "_cost_janitor_patched", False):
        return
    original_create = sm.SageMakerModelBackend.create_endpoint

    def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        if endpoint_name in self.endpoints:
            arn = arn_formatter("endpoint", endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        reserved = [t["Key"] for t in tags or [] if str(t["Key"]).lower().startswith("aws:")]
        if reserved:  # AWS sets aws: tags itself and refuses them in a request (moto accepted them)
            raise ValidationError(message=f"Tag keys beginning with 'aws:' are reserved for AWS use: {reserved}")
        config = self.endpoint_configs.get(endpoint_config_name)
        if config is not None and config.kms_key_id:
            _check_endpoint_key(self.account_id, self.region_name, config.kms_key_id)
        return original_create(self, endpoint_name, endpoint_config_name, tags)

    def create_endpoint_checked(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        from moto.core.exceptions import JsonRESTError

        try:
            return create_endpoint(self, endpoint_name, endpoint_config_name, tags)
        except _SageMakerAccessDenied as exc:
            raise JsonRESTError("AccessDeniedException", str(exc)) from None

    original_create_notebook = sm.SageMakerModelBackend.create_notebook_instance

    def create_notebook_instance(self: Any, *args: Any, **kwargs: Any) -> Any:
        notebook = original_create_notebook(self, *args, **kwargs)
        notebook.status = "InService"
        return notebook

    def start(self: Any) -> None:
        self.status, self.last_modified_time = "InService", utcnow()

    def stop(self: Any) -> None:
        self.status, self.last_modified_time = "Stopped", utcnow()

    def validate_instance_type(self: Any, instance_type: str) -> None:
        if not ML_INSTANCE_TYPE.match(instance_type):
            raise ValidationError(message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint")

    def add_tags(self: Any, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
        resource = self._get_resource_from_arn(arn)
        new = {t["Key"] for t in tags}
        resource.tags = [t for t in resource.tags if t["Key"] not in new] + list(tags)
        tagged: list[dict[str, str]] = resource.tags
        return tagged

    original_validate_variants = sm.SageMakerModelBackend.validate_production_variants

    def validate_production_variants(self: Any, production_variants: list[dict[str, Any]]) -> None:
        # an endpoint that hosts inference components names no model in its variants (AWS accepts it; the models
        # live in the components); moto read ModelName from every variant and failed with a KeyError
        original_validate_variants(self, [v for v in production_variants if "ModelName" in v])

    setattr(sm.SageMakerModelBackend, "validate_production_variants", validate_production_variants)  # noqa: B010
    setattr(sm.SageMakerModelBackend, "add_tags", add_tags)  # noqa: B010
    _add_studio(sm, ValidationError, utcnow)
    setattr(sm.SageMakerModelBackend, "create_endpoint", create_endpoint_checked)  # noqa: B010
    setattr(sm.SageMakerModelBackend, "create_notebook_instance", create_notebook_instance)  # noqa: B010
    setattr(sm.FakeSagemakerNotebookInstance, "start", start)  # noqa: B010
    setattr(sm.FakeSagemakerNotebookInstance, "stop", stop)  # noqa: B010
    setattr(sm.FakeSagemakerNotebookInstance, "validate_instance_type", validate_instance_type)  # noqa: B010
    setattr(sm.FakeEndpointConfig, "validate_instance_type", validate_instance_type)  # noqa: B010
    setattr(sm, "_cost_janitor_patched", True)  # noqa: B010


class _StudioApp:
    """A Studio app as SageMaker describes it (moto has none)."""

    def __init__(self, arn: str, spec: dict[str, Any], created: datetime) -> None:
        self.arn, self.spec, self.created, self.status = arn, spec, created, "InService"
        self.tags: list[dict[str, str]] = list(spec.get("Tags") or [])

    def details(self) -> dict[str, Any]:
        owner = {k: self.spec[k] for k in ("UserProfileName", "SpaceName") if self.spec.get(k)}
        return {"DomainId": self.spec["DomainId"], **owner, "AppType": self.spec["AppType"],
                "AppName": self.spec["AppName"], "Status": self.status, "CreationTime": self.created,
                "ResourceSpec": self.spec.get("ResourceSpec") or {}}


def bus_admits(policy: str | None, account: str, bus_account: str) -> bool:
    """Whether an event bus's resource policy lets `account` put events on it (its own account always may).
    Principals by account id or root ARN, and "*"; a statement with conditions (aws:PrincipalOrgID) admits nobody
    here: the emulator has no organization to check it against, so it errs on the refusing side."""
    if account == bus_account:
        return True
    for statement in json.loads(policy or "{}").get("Statement", []):
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        principal = statement.get("Principal")
        names = principal.get("AWS") if isinstance(principal, dict) else principal
        names = [names] if isinstance(names, str) else names or []
        if (statement.get("Effect") == "Allow" and not statement.get("Condition")
                and {"events:PutEvents", "events:*"} & set(actions)
                and any(n in ("*", account) or re.fullmatch(rf"arn:aws[\w-]*:iam::{account}:root", n) for n in names)):
            return True
    return False


LAMBDA_CONCURRENCY = 1000  # the account's Lambda "Concurrent executions" quota here (AWS's default for most)


def _patch_lambda() -> None:
    """GetAccountSettings, which moto lacks (`cost-janitor preflight` reads it): AccountLimit as the API documents it,
    the concurrency from LAMBDA_CONCURRENCY less what functions reserved."""
    import json as json_

    from moto.awslambda import urls
    from moto.awslambda.models import lambda_backends
    from moto.core.responses import BaseResponse

    if getattr(urls, "_cost_janitor_patched", False):
        return

    class AccountSettings(BaseResponse):
        def __init__(self) -> None:
            super().__init__(service_name="awslambda")

        def account_settings(self, request: Any, full_url: str, headers: Any) -> Any:
            self.setup_class(request, full_url, headers)
            backend = lambda_backends[self.current_account][self.region]
            reserved = sum(int(f.reserved_concurrency or 0) for f in backend.list_functions())
            return 200, {}, json_.dumps({"AccountLimit": {
                "TotalCodeSize": 80530636800, "CodeSizeUnzipped": 262144000, "CodeSizeZipped": 52428800,
                "ConcurrentExecutions": LAMBDA_CONCURRENCY,
                "UnreservedConcurrentExecutions": LAMBDA_CONCURRENCY - reserved},
                "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": len(list(backend.list_functions()))}})

    def account_settings(request: Any, full_url: str, headers: Any) -> Any:  # moto names a route by its function
        return AccountSettings().account_settings(request, full_url, headers)

    urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = account_settings
    setattr(urls, "_cost_janitor_patched", True)  # noqa: B010


def _patch_events() -> None:
    """EventBridge rules whose target is an event bus in another account: moto forwards every event, ignores the
    receiving bus's policy and rewrites `account` to the receiver's. EventBridge checks the policy (a refused event
    goes, after its retries, to the target's dead-letter queue: here at once, retries are not emulated) and keeps
    the sender's `account` — which is how the receiver knows who sent it. Targets get the event with its
    `account` (moto's default input template drops it)."""
    import copy

    from moto.events import models, utils
    from moto.sqs.models import sqs_backends
    from moto.utilities.arns import parse_arn

    # a target without an input transformer gets the whole event, `account` included (moto leaves it out)
    utils.EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = (
        '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", "account": "<account>", '
        '"time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}')
    original: Any = models.Rule.send_to_targets

    def is_bus(target: dict[str, Any]) -> bool:
        arn = parse_arn(target["Arn"])
        return bool(arn.service == "events" and arn.resource_type == "event-bus")

    def forward(rule: Any, target: dict[str, Any], event: dict[str, Any]) -> None:
        arn = parse_arn(target["Arn"])
        bus = models.events_backends[arn.account][arn.region].event_buses.get(arn.resource_id)
        if bus is None or not bus_admits(bus.policy, rule.account_id, arn.account):
            dlq = target.get("DeadLetterConfig", {}).get("Arn")
            if dlq:
                q = parse_arn(dlq)
                sqs_backends[q.account][q.region].send_message(queue_name=q.resource_id,
                                                               message_body=json.dumps(event))
            return
        for receiving in list(bus.rules.values()):
            original(receiving, copy.deepcopy(event))

    def send_to_targets(self: Any, event: dict[str, Any], transform_input: bool = True) -> None:
        if not self.event_pattern.matches_event(event):
            return
        targets = self.targets
        for target in [t for t in targets if is_bus(t)]:
            forward(self, target, event)
        others = [t for t in targets if not is_bus(t)]
        if others:
            self.targets = others
            try:
                original(self, event, transform_input)
            finally:
                self.targets = targets

    models.Rule.send_to_targets = send_to_targets  # type: ignore[method-assign,assignment]

    # PutEvents refuses a request whose entries total more than the limit (moto has no size check). The size of an
    # entry is EventBridge User Guide's "Calculating PutEvents event entry size": Time 14 bytes if given, Source,
    # DetailType, Detail and each Resources entry by their UTF-8 bytes. The limit was 256 KB and is 1 MB since
    # 2026-01-29 (AWS Compute Blog: payloads up to 1 MB for EventBridge, SQS and asynchronous Lambda).
    original_put = models.EventsBackend.put_events

    def put_events(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if sum(entry_size(e) for e in events) > PUT_EVENTS_MAX_BYTES:
            from moto.events.exceptions import ValidationException

            raise ValidationException("Total size of the entries in the request is over the limit.")
        result: list[dict[str, Any]] = original_put(self, events)
        return result

    models.EventsBackend.put_events = put_events  # type: ignore[method-assign]


PUT_EVENTS_MAX_BYTES = 1024 * 1024


def entry_size(entry: dict[str, Any]) -> int:
    """A PutEvents entry's size as EventBridge counts it (User Guide, "Calculating PutEvents event entry size")."""
    return (14 if entry.get("Time") else 0) + sum(len(str(entry.get(k) or "").encode()) for k in (
        "Source", "DetailType", "Detail")) + sum(len(str(r).encode()) for r in entry.get("Resources") or [])


def _replace_blocks(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """UpdateDomain's DefaultUserSettings: each settings block given replaces the domain's block of that name (the
    API reference does not promise a merge below it, so the emulator takes the stricter reading: a caller that
    sends only the idle settings loses the block's images, lifecycle configurations and default resource spec)."""
    return {**base, **update}


def _add_studio(sm: Any, ValidationError: Any, utcnow: Any) -> None:
    """Studio APIs moto lacks, from their documented request and response shapes (botocore's service model):
    CreateApp, DescribeApp, ListApps (DomainIdEquals, UserProfileNameEquals, SpaceNameEquals; NextToken), DeleteApp
    (the app goes to Deleted and stays listed, as in SageMaker), UpdateDomain (DefaultUserSettings merged into the
    domain's), and tags on apps (AddTags/ListTags/DeleteTags, and the tagging API's sagemaker:app)."""
    from moto.core.resource_tagging import TaggedResource
    from moto.core.responses import ActionResult, EmptyResult
    from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound
    from moto.sagemaker.responses import SageMakerResponse
    from moto.sagemaker.utils import arn_formatter

    backend, responses = sm.SageMakerModelBackend, SageMakerResponse

    def apps(self: Any) -> dict[str, _StudioApp]:
        if not hasattr(self, "_cost_janitor_apps"):
            self._cost_janitor_apps = {}
        store: dict[str, _StudioApp] = self._cost_janitor_apps
        return store

    def key(p: dict[str, Any]) -> str:
        owner = p.get("UserProfileName") or p.get("SpaceName") or ""
        return f"{p['DomainId']}/{owner}/{str(p['AppType']).lower()}/{p['AppName']}"

    def find(self: Any, p: dict[str, Any]) -> _StudioApp:
        app = apps(self).get(key(p))
        if app is None:
            raise ResourceNotFound(message=f"App {key(p)} does not exist.")
        return app

    def create_app(r: Any) -> Any:
        b = r.sagemaker_backend
        p = {k: r._get_param(k) for k in ("DomainId", "UserProfileName", "SpaceName", "AppType", "AppName",
                                         "ResourceSpec", "Tags")}
        if p["DomainId"] not in b.domains:
            raise ValidationError(message=f"Domain {p['DomainId']} not found.")
        existing = apps(b).get(key(p))
        if existing is not None and existing.status != "Deleted":
            raise ResourceInUseException(message=f"App {key(p)} already exists")
        # SageMaker writes its ARNs' resource part in lower case (the app type too: .../jupyterlab/default)
        arn = arn_formatter("app", key(p).lower(), b.account_id, b.region_name)
        apps(b)[key(p)] = _StudioApp(arn, p, utcnow())
        return ActionResult({"AppArn": arn})

    def describe_app(r: Any) -> Any:
        app = find(r.sagemaker_backend, {k: r._get_param(k) for k in ("DomainId", "UserProfileName", "SpaceName",
                                                                        "AppType", "AppName")})
        return ActionResult({"AppArn": app.arn, **app.details()})

    def list_apps(r: Any) -> Any:
        wanted = {"DomainId": r._get_param("DomainIdEquals"), "UserProfileName": r._get_param("UserProfileNameEquals"),
                  "SpaceName": r._get_param("SpaceNameEquals")}
        found = [a.details() for a in apps(r.sagemaker_backend).values()
                 if all(v is None or a.spec.get(k) == v for k, v in wanted.items())]
        start, size = int(r._get_param("NextToken") or 0), int(r._get_param("MaxResults") or 10)
        page = found[start:start + size]
        token = str(start + size) if start + size < len(found) else None
        return ActionResult({"Apps": page, **({"NextToken": token} if token else {})})

    def delete_app(r: Any) -> Any:
        app = find(r.sagemaker_backend, {k: r._get_param(k) for k in ("DomainId", "UserProfileName", "SpaceName",
                                                                        "AppType", "AppName")})
        if app.status == "Deleted":
            raise ValidationError(message=f"App {app.arn} is already deleted.")
        app.status = "Deleted"
        return EmptyResult()

    def update_domain(r: Any) -> Any:
        b, domain_id = r.sagemaker_backend, r._get_param("DomainId")
        if domain_id not in b.domains:
            raise ValidationError(message=f"Could not find domain '{domain_id}'.")
        domain = b.domains[domain_id]
        domain.default_user_settings = _replace_blocks(domain.default_user_settings or {},
                                              r._get_param("DefaultUserSettings") or {})
        return ActionResult({"DomainArn": domain.arn})

    original_resource = backend._get_resource_from_arn
    original_iter = backend.iter_tagged_resources

    def resource_from_arn(self: Any, arn: str) -> Any:
        resource = arn.split(":", 5)[-1]
        if resource.startswith("app/"):
            app = next((a for a in apps(self).values() if a.arn == arn), None)  # the ARN as SageMaker wrote it
            if app is None:
                raise ValidationError(message=f"Could not find app {resource}")
            return app
        return original_resource(self, arn)

    def iter_tagged_resources(self: Any) -> Any:
        yield from original_iter(self)
        for app in apps(self).values():
            yield TaggedResource(arn=app.arn, tags={t["Key"]: t["Value"] for t in app.tags},
                                    resource_type="sagemaker:app")

    for name, fn in (("create_app", create_app), ("describe_app", describe_app), ("list_apps", list_apps),
                     ("delete_app", delete_app), ("update_domain", update_domain)):
        setattr(responses, name, fn)
    setattr(backend, "_get_resource_from_arn", resource_from_arn)  # noqa: B010
    setattr(backend, "iter_tagged_resources", iter_tagged_resources)  # noqa: B010


def patch_all() -> None:
    """Every patch, once per process (each one checks it is not applied twice)."""
    _patch_cloudwatch()
    _patch_ssm()
    _patch_s3()
    _patch_ec2_tags()
    _patch_ec2_addresses()
    _patch_ec2_endpoints()
    _patch_efs()
    _patch_ecr()
    _patch_fsx()
    _patch_recycle_bin()
    _patch_launch_templates()
    _patch_eks()
    _patch_sagemaker()
    _patch_events()
    _patch_lambda()
