"""A realistic ML account in the emulator: instances, metrics as the agent and AWS publish them, endpoints,
notebook instances, Studio."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from cost_janitor.local.emulator.server import FAKE_ACCOUNT, LocalAws


class MetricSeeder:
    """Writes datapoints in PutMetricData batches of 1,000 (AWS's limit), one namespace per call."""

    BATCH = 1000

    def __init__(self, cloudwatch: Any) -> None:
        self._cw = cloudwatch
        self._pending: dict[str, list[dict[str, Any]]] = {}
        self.calls = 0

    def series(self, namespace: str, name: str, dimensions: dict[str, str], values: list[float], *,
               end: datetime, period: int = 3600, unit: str | None = None) -> None:
        """values[-1] lands in the period just before `end`, values[-2] the one before, and so on."""
        dims = [{"Name": k, "Value": v} for k, v in dimensions.items()]
        for back, value in enumerate(reversed(values), start=1):
            datum: dict[str, Any] = {"MetricName": name, "Dimensions": dims, "Value": float(value),
                                     "Timestamp": end - timedelta(seconds=back * period - period // 2)}
            if unit:
                datum["Unit"] = unit
            batch = self._pending.setdefault(namespace, [])
            batch.append(datum)
            if len(batch) >= self.BATCH:
                self._send(namespace)

    def flush(self) -> None:
        for namespace in list(self._pending):
            self._send(namespace)

    def _send(self, namespace: str) -> None:
        batch = self._pending.pop(namespace, [])
        if batch:
            self._cw.put_metric_data(Namespace=namespace, MetricData=batch)
            self.calls += 1


def launch(ec2: Any, instance_type: str, tags: dict[str, str], **kwargs: Any) -> str:
    """Run one instance with tags (moto accepts any AMI id); returns its id."""
    spec: dict[str, Any] = {"ImageId": "ami-0c55b159cbfafe1f0", "MinCount": 1, "MaxCount": 1,
                            "InstanceType": instance_type, **kwargs}
    if tags:
        spec["TagSpecifications"] = [{"ResourceType": "instance",
                                      "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}]
    instance_id: str = ec2.run_instances(**spec)["Instances"][0]["InstanceId"]
    return instance_id


def seed_instance_metrics(seeder: MetricSeeder, instance_id: str, *, end: datetime, hours: int, cpu: float,
                          network_mb_per_hour: float = 0.5, gpus: list[tuple[float, float]] | None = None,
                          gpu_name: str = "NVIDIA A10G") -> None:
    """Hourly EC2 metrics, and CloudWatch agent GPU series (one per GPU: utilisation %, memory utilisation %)."""
    half_bytes = network_mb_per_hour * 1024 * 1024 / 2
    seeder.series("AWS/EC2", "CPUUtilization", {"InstanceId": instance_id}, [cpu] * hours, end=end, unit="Percent")
    for name in ("NetworkIn", "NetworkOut"):
        seeder.series("AWS/EC2", name, {"InstanceId": instance_id}, [half_bytes] * hours, end=end, unit="Bytes")
    for index, (util, memory) in enumerate(gpus or []):
        dims = gpu_dimensions(instance_id, index, gpu_name)
        seeder.series("CWAgent", "nvidia_smi_utilization_gpu", dims, [util] * hours, end=end, unit="Percent")
        seeder.series("CWAgent", "nvidia_smi_utilization_memory", dims, [memory] * hours, end=end, unit="Percent")


def gpu_dimensions(instance_id: str, index: int, gpu_name: str) -> dict[str, str]:
    """The dimensions the CloudWatch agent's nvidia_gpu plugin writes (index, name, host) plus InstanceId."""
    host = f"ip-{instance_id[-8:]}.ec2.internal"
    return {"InstanceId": instance_id, "index": str(index), "name": gpu_name, "host": host}


def seed_endpoint(aws: LocalAws, name: str, *, variants: list[tuple[str, str | None, int]], tags: dict[str, str],
                  created: datetime, region: str = "us-east-1", kind: str = "real-time",
                  kms_key_id: str | None = None) -> str:
    """A model, an EndpointConfig and an InService endpoint created at `created`. A variant is (name, instance type,
    count); instance type None makes it serverless. `kind`: real-time, async (an AsyncInferenceConfig) or
    inference-components (variants without a model). Returns the endpoint's ARN."""
    sm = aws.client("sagemaker", region)
    role = f"arn:aws:iam::{FAKE_ACCOUNT}:role/sagemaker"
    sm.create_model(ModelName=f"{name}-model", ExecutionRoleArn=role,
                    PrimaryContainer={"Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1"})
    model = {} if kind == "inference-components" else {"ModelName": f"{name}-model"}
    spec = [{"VariantName": v, **model, **(
        {"InstanceType": t, "InitialInstanceCount": n, "InitialVariantWeight": 1.0} if t else
        {"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}})} for v, t, n in variants]
    extra: dict[str, Any] = {"AsyncInferenceConfig": {"OutputConfig": {"S3OutputPath": f"s3://{name}-out/"}}} \
        if kind == "async" else {}
    if kms_key_id:
        extra["KmsKeyId"] = kms_key_id
    sm.create_endpoint_config(EndpointConfigName=f"{name}-config", ProductionVariants=spec, **extra)
    arn: str = sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config",
                                  Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["EndpointArn"]
    backdate(name, created, region=region, kind="endpoints")
    return arn


def system_tags(name: str, tags: dict[str, str], *, region: str = "us-east-1") -> None:
    """Seeding only: tags AWS itself puts on an endpoint (aws:cloudformation:*), which no request may send."""
    from moto.sagemaker.models import sagemaker_backends

    endpoint = sagemaker_backends[FAKE_ACCOUNT][region].endpoints[name]
    endpoint.tags = [*endpoint.tags, *({"Key": k, "Value": v} for k, v in tags.items())]


def set_endpoint_status(name: str, status: str, *, region: str = "us-east-1") -> None:
    """Seeding only: an endpoint in another status (Deleting: moto deletes at once)."""
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends[FAKE_ACCOUNT][region].endpoints[name].endpoint_status = status


def backdate(name: str, at: datetime, *, region: str = "us-east-1", kind: str = "endpoints") -> None:
    """Seeding only: an endpoint (or notebook instance, kind='notebook_instances') created or started at `at` — the
    emulator stamps the present, and the janitor judges time against the run's clock."""
    from moto.sagemaker.models import sagemaker_backends

    resource = getattr(sagemaker_backends[FAKE_ACCOUNT][region], kind)[name]
    resource.creation_time = resource.last_modified_time = at.astimezone(UTC).replace(tzinfo=None)


def seed_endpoint_metrics(seeder: MetricSeeder, endpoint: str, variant: str, *, end: datetime, hours: int,
                          invocations_per_hour: float | None, cpu: float = 5.0, gpus: list[float] | None = None,
                          gpu_memory: float = 20.0) -> None:
    """Hourly metrics as SageMaker publishes them: Invocations (0: none in the window — the series exists, its last
    requests ten days before `end`; None: no series at all, a signal the janitor must not read as zero), instance
    CPU, and GPUUtilization / GPUMemoryUtilization as the sum over the GPUs."""
    dims = {"EndpointName": endpoint, "VariantName": variant}
    if invocations_per_hour == 0:
        seeder.series("AWS/SageMaker", "Invocations", dims, [3.0], end=end - timedelta(days=10))
    elif invocations_per_hour is not None:
        seeder.series("AWS/SageMaker", "Invocations", dims, [invocations_per_hour] * hours, end=end)
    seeder.series("/aws/sagemaker/Endpoints", "CPUUtilization", dims, [cpu] * hours, end=end, unit="Percent")
    if gpus:
        seeder.series("/aws/sagemaker/Endpoints", "GPUUtilization", dims, [sum(gpus)] * hours, end=end,
                      unit="Percent")
        seeder.series("/aws/sagemaker/Endpoints", "GPUMemoryUtilization", dims, [gpu_memory * len(gpus)] * hours,
                      end=end, unit="Percent")


def seed_notebook(aws: LocalAws, name: str, *, instance_type: str, tags: dict[str, str], started: datetime,
                  lifecycle_config: str | None = None, region: str = "us-east-1") -> str:
    """A notebook instance in service since `started` (with an auto-stop lifecycle configuration if named)."""
    sm = aws.client("sagemaker", region)
    if lifecycle_config:
        sm.create_notebook_instance_lifecycle_config(
            NotebookInstanceLifecycleConfigName=lifecycle_config,
            OnStart=[{"Content": "IyBhdXRvLXN0b3Agd2hlbiBpZGxl"}])  # base64 of a script
    arn: str = sm.create_notebook_instance(
        NotebookInstanceName=name, InstanceType=instance_type, RoleArn=f"arn:aws:iam::{FAKE_ACCOUNT}:role/sagemaker",
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
        **({"LifecycleConfigName": lifecycle_config} if lifecycle_config else {}))["NotebookInstanceArn"]
    backdate(name, started, region=region, kind="notebook_instances")
    return arn


def seed_studio_domain(aws: LocalAws, name: str, *, tags: dict[str, str], idle_shutdown: bool,
                       region: str = "us-east-1") -> str:
    """A Studio domain, with JupyterLab and Code Editor idle shutdown on or off (and a team's default image and
    lifecycle configuration for JupyterLab); returns its id."""
    idle = {"AppLifecycleManagement": {"IdleSettings": {"LifecycleManagement": "ENABLED" if idle_shutdown else
                                                        "DISABLED", "IdleTimeoutInMinutes": 60}}}
    lab = {**idle, "DefaultResourceSpec": {"InstanceType": "ml.t3.medium"}, "LifecycleConfigArns": [
        f"arn:aws:sagemaker:{region}:{FAKE_ACCOUNT}:studio-lifecycle-config/install-team-tools"]}
    arn: str = aws.client("sagemaker", region).create_domain(
        DomainName=name, AuthMode="IAM", SubnetIds=["subnet-0a1b2c3d"], VpcId="vpc-0a1b2c3d",
        DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{FAKE_ACCOUNT}:role/sagemaker",
                             "JupyterLabAppSettings": lab, "CodeEditorAppSettings": idle},
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["DomainArn"]
    return arn.rsplit("/", 1)[1]


def seed_studio_app(aws: LocalAws, domain_id: str, *, user_profile: str, app_type: str, instance_type: str,
                    tags: dict[str, str], created: datetime, app_name: str = "default",
                    region: str = "us-east-1") -> str:
    """A Studio app in service since `created` (tags as TagPropagation gives them); returns its ARN."""
    from moto.sagemaker.models import sagemaker_backends

    arn: str = aws.client("sagemaker", region).create_app(
        DomainId=domain_id, UserProfileName=user_profile, AppType=app_type, AppName=app_name,
        ResourceSpec={"InstanceType": instance_type}, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["AppArn"]
    backend = sagemaker_backends[FAKE_ACCOUNT][region]
    [app] = [a for a in getattr(backend, "_cost_janitor_apps").values() if a.arn == arn]  # noqa: B009
    app.created = at_naive(created)
    return arn


def at_naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def launched_ago(instance_id: str, hours: float, *, region: str = "us-east-1", account: str = FAKE_ACCOUNT) -> None:
    """An instance that has been running for `hours` (EC2's LaunchTime): the world as it stands tonight, where a
    cluster's nodes came up days ago. moto stamps every instance with the moment it was created."""
    from moto.ec2.models import ec2_backends

    instance = ec2_backends[account][region].get_instance(instance_id)
    instance.launch_time = (datetime.now(UTC) - timedelta(hours=hours)).replace(tzinfo=None)


def seed_eks_nodegroup(aws: LocalAws, cluster: str, name: str, *, instance_type: str, nodes: int, min_size: int,
                       max_size: int, tags: dict[str, str], hours_up: float = 24 * 10,
                       region: str = "us-east-1") -> tuple[str, list[str]]:
    """A managed node group and its running nodes, tagged as EKS tags them (eks:cluster-name,
    eks:nodegroup-name): moto's node groups launch no instances. Returns its Auto Scaling group name and nodes."""
    eks = aws.client("eks", region)
    if cluster not in eks.list_clusters()["clusters"]:
        eks.create_cluster(name=cluster, roleArn=f"arn:aws:iam::{FAKE_ACCOUNT}:role/eks-cluster",
                           resourcesVpcConfig={"subnetIds": ["subnet-0a1b2c3d"]},
                           tags={k: v for k, v in tags.items() if k != "environment"})
    group = eks.create_nodegroup(
        clusterName=cluster, nodegroupName=name, nodeRole=f"arn:aws:iam::{FAKE_ACCOUNT}:role/eks-node",
        subnets=["subnet-0a1b2c3d"], instanceTypes=[instance_type], tags=tags,
        scalingConfig={"minSize": min_size, "maxSize": max_size, "desiredSize": nodes})["nodegroup"]
    ec2 = aws.client("ec2", region)
    ids = []
    for _ in range(nodes):
        instance = launch(ec2, instance_type, {"eks:cluster-name": cluster, "eks:nodegroup-name": name,
                                               f"kubernetes.io/cluster/{cluster}": "owned", **tags})
        launched_ago(instance, hours_up, region=region)
        ids.append(instance)
    return str(group["resources"]["autoScalingGroups"][0]["name"]), ids


def seed_node_insights(seeder: MetricSeeder, cluster: str, instance_id: str, *, end: datetime, hours: int,
                       gpus: int, requested: float, utilization: float, recent_requested: float | None = None) -> None:
    """A node's Container Insights GPU series as the CloudWatch agent publishes them (enhanced observability; the
    names and [ClusterName, InstanceId, NodeName] dimensions of AWS's metric table: core/eks.py)."""
    dims = {"ClusterName": cluster, "InstanceId": instance_id, "NodeName": f"ip-{instance_id[-8:]}.ec2.internal"}
    late = requested if recent_requested is None else recent_requested
    seeder.series("ContainerInsights", "node_gpu_limit", dims, [gpus] * hours, end=end, unit="Count")
    seeder.series("ContainerInsights", "node_gpu_usage_total", dims, [requested] * (hours - 4) + [late] * 4, end=end,
                  unit="Count")
    seeder.series("ContainerInsights", "node_gpu_utilization", dims, [utilization] * hours, end=end, unit="Percent")
    seeder.series("ContainerInsights", "cluster_node_count", {"ClusterName": cluster}, [1] * hours, end=end,
                  unit="Count")


def seed_pod_insights(seeder: MetricSeeder, cluster: str, namespace: str, pod: str, *, end: datetime, hours: int,
                      gpus: float = 0, gpu_utilization: float = 0, cpu: tuple[float, float] = (2000, 1500),
                      memory: tuple[float, float] = (4e9, 3e9)) -> None:
    """A pod's requests and use ([ClusterName, Namespace, PodName]; GPU utilisation per container), as the agent
    publishes them (also at [ClusterName] and with FullPodName, which the janitor does not read)."""
    dims = {"ClusterName": cluster, "Namespace": namespace, "PodName": pod}
    for name, value in (("pod_cpu_request", cpu[0]), ("pod_cpu_usage_total", cpu[1]),
                        ("pod_memory_request", memory[0]), ("pod_memory_working_set", memory[1])):
        seeder.series("ContainerInsights", name, dims, [value] * hours, end=end)
        seeder.series("ContainerInsights", name, {**dims, "FullPodName": f"{pod}-7d9f8"}, [value] * hours, end=end)
    if gpus:
        seeder.series("ContainerInsights", "pod_gpu_request", dims, [gpus] * hours, end=end, unit="Count")
        seeder.series("ContainerInsights", "pod_gpu_utilization", {**dims, "ContainerName": "main"},
                      [gpu_utilization] * hours, end=end, unit="Percent")


def seed_desired_capacity(seeder: MetricSeeder, asg: str, values: list[float], *, end: datetime) -> None:
    """GroupDesiredCapacity (AWS/AutoScaling), published when the group's metrics collection is enabled."""
    seeder.series("AWS/AutoScaling", "GroupDesiredCapacity", {"AutoScalingGroupName": asg}, values, end=end)


def seed_vpc_with_nat(aws: LocalAws, *, tags: dict[str, str], region: str = "us-east-1", cidr: str = "10.0.0.0/16",
                      private_zones: tuple[str, ...] = ("a", "b"), nat_zone: str = "a") -> dict[str, Any]:
    """A VPC as ML teams build it: a public subnet with a NAT gateway, one private subnet per zone, each with its
    route table sending 0.0.0.0/0 to the NAT gateway. Returns the ids (vpc, nat, nat_ip, private_tables, subnets)."""
    ec2 = aws.client("ec2", region)
    prefix = cidr.rsplit(".", 2)[0]
    vpc = ec2.create_vpc(CidrBlock=cidr, TagSpecifications=[{
        "ResourceType": "vpc", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])["Vpc"]["VpcId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.250.0/24",
                               AvailabilityZone=f"{region}{nat_zone}")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation["AllocationId"],
                                 TagSpecifications=[{"ResourceType": "natgateway", "Tags": [
                                     {"Key": k, "Value": v} for k, v in tags.items()]}])["NatGateway"]
    tables, subnets = [], []
    for n, zone in enumerate(private_zones):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{n}.0/24",
                                   AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGatewayId"])
        tables.append(table)
        subnets.append(subnet)
    return {"vpc": vpc, "nat": nat["NatGatewayId"], "nat_ip": allocation["PublicIp"], "private_tables": tables,
            "subnets": subnets}


def nat_created_ago(nat_id: str, days: float, *, region: str = "us-east-1", account: str = FAKE_ACCOUNT) -> None:
    """A NAT gateway created `days` ago (moto stamps it with the moment it was created)."""
    from moto.ec2.models import ec2_backends

    ec2_backends[account][region].nat_gateways[nat_id]._created_at = at_naive(
        datetime.now(UTC) - timedelta(days=days))


def seed_nat_bytes(seeder: MetricSeeder, nat_id: str, *, end: datetime, hours: int, gb_per_hour: float) -> None:
    """A NAT gateway's bytes as AWS/NATGateway publishes them (NatGatewayId; core/network.py cites the metric table):
    half of each hour's processed bytes from the VPC's clients, half from the destinations."""
    half = gb_per_hour * 2 ** 30 / 2
    for name in ("BytesInFromSource", "BytesInFromDestination"):
        seeder.series("AWS/NATGateway", name, {"NatGatewayId": nat_id}, [half] * hours, end=end, unit="Bytes")


def canned_cost_explorer(aws: LocalAws, results: list[dict[str, Any]]) -> None:
    """The answers moto's Cost Explorer gives to the next GetCostAndUsage calls, one result each, in order."""
    import json
    import urllib.request

    request = urllib.request.Request(f"{aws.endpoint}/moto-api/static/ce/cost-and-usage-results", method="POST",
                                     data=json.dumps({"results": results}).encode(),
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).close()


def usage_types(lines: dict[str, tuple[float, float]], *, start: str, end: str) -> dict[str, Any]:
    """One GetCostAndUsage answer grouped by USAGE_TYPE: usage type → (USD, quantity)."""
    return {"ResultsByTime": [{"TimePeriod": {"Start": start, "End": end}, "Total": {}, "Estimated": False,
                               "Groups": [{"Keys": [k], "Metrics": {
                                   "UnblendedCost": {"Amount": str(usd), "Unit": "USD"},
                                   "UsageQuantity": {"Amount": str(qty), "Unit": "N/A"}}}
                                   for k, (usd, qty) in lines.items()]}]}


def seed_file_system(aws: LocalAws, *, tags: dict[str, str], size_gb: float, region: str = "us-east-1",
                     throughput: str = "elastic", created_days_ago: float = 90,
                     lifecycle: list[dict[str, str]] | None = None, account: str = FAKE_ACCOUNT) -> str:
    """An EFS file system holding `size_gb` (moto reports 0 bytes and stamps it with the moment it was created)."""
    from moto.efs.models import efs_backends

    efs = aws.client("efs", region)
    fs_id: str = efs.create_file_system(CreationToken=f"seed-{uuid.uuid4()}",
                                        ThroughputMode=throughput, PerformanceMode="generalPurpose",
                                        Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["FileSystemId"]
    if lifecycle:
        efs.put_lifecycle_configuration(FileSystemId=fs_id, LifecyclePolicies=lifecycle)
    fs = efs_backends[account][region].file_systems_by_id[fs_id]
    fs._size_value = int(size_gb * 2 ** 30)
    fs.creation_time = (datetime.now(UTC) - timedelta(days=created_days_ago)).timestamp()
    return fs_id


def seed_efs_metrics(seeder: MetricSeeder, fs_id: str, *, end: datetime, hours: int, connections: float,
                     io_bytes: float) -> None:
    """A file system's ClientConnections and TotalIOBytes as AWS/EFS publishes them (FileSystemId; core/efs.py)."""
    dims = {"FileSystemId": fs_id}
    seeder.series("AWS/EFS", "ClientConnections", dims, [connections] * hours, end=end, unit="Count")
    seeder.series("AWS/EFS", "TotalIOBytes", dims, [io_bytes] * hours, end=end, unit="Bytes")


def seed_repository(aws: LocalAws, name: str, *, tags: dict[str, str], images: list[tuple[tuple[str, ...], float,
                    float, float | None]], region: str = "us-east-1", policy_text: str | None = None,
                    account: str = FAKE_ACCOUNT) -> str:
    """An ECR repository with images (tags, GB, days since push, days since last pull or None): moto has no pulls
    and stamps every push with now, so both times are set on its images as ECR would have recorded them."""
    import hashlib
    import json

    from moto.ecr.models import ecr_backends

    ecr = aws.client("ecr", region)
    arn: str = ecr.create_repository(repositoryName=name, tags=[{"Key": k, "Value": v} for k, v in tags.items()])[
        "repository"]["repositoryArn"]
    if policy_text:
        ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=policy_text)
    repository = ecr_backends[account][region].repositories[name]
    now = datetime.now(UTC)
    for n, (image_tags, gb, pushed_days, pulled_days) in enumerate(images):
        layer = hashlib.sha256(f"{name}-{n}".encode()).hexdigest()
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                               "config": {"size": 1024, "digest": f"sha256:{'c' * 64}"},
                               "layers": [{"size": int(gb * 2 ** 30), "digest": f"sha256:{layer}"}]})
        tag = {"imageTag": image_tags[0]} if image_tags else {}
        ecr.put_image(repositoryName=name, imageManifest=manifest, **tag)
        image = repository.images[-1]
        image.image_pushed_at = int((now - timedelta(days=pushed_days)).timestamp())
        if pulled_days is not None:
            setattr(image, "last_recorded_pull_time", int((now - timedelta(days=pulled_days)).timestamp()))  # noqa: B010
    return arn


def seed_lustre(aws: LocalAws, *, tags: dict[str, str], deployment_type: str = "PERSISTENT_2", storage_gib: int = 1200,
                region: str = "us-east-1", created_days_ago: float = 30, account: str = FAKE_ACCOUNT) -> str:
    """An FSx for Lustre file system (moto stamps it with the moment it was created)."""
    from moto.fsx.models import fsx_backends

    lustre: dict[str, Any] = {"DeploymentType": deployment_type}
    if deployment_type.startswith("PERSISTENT"):
        lustre["PerUnitStorageThroughput"] = 125
    fs = aws.client("fsx", region).create_file_system(
        FileSystemType="LUSTRE", StorageCapacity=storage_gib, StorageType="SSD", SubnetIds=["subnet-0a1b2c3d"],
        LustreConfiguration=lustre, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["FileSystem"]
    fs_id: str = fs["FileSystemId"]
    setattr(fsx_backends[account][region].file_systems[fs_id], "creation_time",  # noqa: B010 (the emulator's field)
            (datetime.now(UTC) - timedelta(days=created_days_ago)).timestamp())
    return fs_id


def seed_fsx_metrics(seeder: MetricSeeder, fs_id: str, *, end: datetime, hours: int, read_gb_per_hour: float,
                     write_gb_per_hour: float) -> None:
    """A Lustre file system's DataReadBytes and DataWriteBytes as AWS/FSx publishes them (FileSystemId; core/fsx.py)."""
    dims = {"FileSystemId": fs_id}
    seeder.series("AWS/FSx", "DataReadBytes", dims, [read_gb_per_hour * 2 ** 30] * hours, end=end, unit="Bytes")
    seeder.series("AWS/FSx", "DataWriteBytes", dims, [write_gb_per_hour * 2 ** 30] * hours, end=end, unit="Bytes")


def seed_image(aws: LocalAws, name: str, *, tags: dict[str, str], created_days_ago: float,
               launched_days_ago: float | None, region: str = "us-east-1", account: str = FAKE_ACCOUNT) -> str:
    """An AMI of the account (made from a throwaway instance: moto snapshots its root volume), created and last
    launched that long ago, as DescribeImages reports them (moto stamps now and records no launch)."""
    from moto.ec2.models import ec2_backends

    ec2 = aws.client("ec2", region)
    source = launch(ec2, "t3.micro", {})
    image: str = ec2.create_image(InstanceId=source, Name=name, TagSpecifications=[{
        "ResourceType": "image", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}])["ImageId"]
    ec2.terminate_instances(InstanceIds=[source])
    ami = ec2_backends[account][region].amis[image]
    now = datetime.now(UTC)
    ami.creation_date = at_naive(now - timedelta(days=created_days_ago))
    if launched_days_ago is not None:
        setattr(ami, "last_launched_time",  # noqa: B010 (DescribeImages' LastLaunchedTime, which moto lacks)
                (now - timedelta(days=launched_days_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z"))
    return image


def ec2_price_product(instance_type: str, region: str, usd_per_hour: float, *,
                      published: str = "2026-11-20T00:00:00Z") -> dict[str, Any]:
    """One EC2 on-demand Linux product as the Price List API documents its PriceList entries (product with its
    attributes, terms.OnDemand with priceDimensions and pricePerUnit) — a test fixture, not a real price."""
    return _hourly_product("AmazonEC2", "Compute Instance", {
        "instanceType": instance_type, "regionCode": region, "operatingSystem": "Linux", "tenancy": "Shared",
        "preInstalledSw": "NA", "capacitystatus": "Used"}, usd_per_hour, published,
        f"${usd_per_hour} per On Demand Linux {instance_type} Instance Hour")


def sagemaker_price_product(instance_type: str, region: str, usd_per_hour: float, *, use: str = "Hosting",
                            published: str = "2026-11-20T00:00:00Z") -> dict[str, Any]:
    """One SageMaker AI instance product (ML Instance; platoinstancetype Hosting, Notebook, ...) in the same shape —
    a test fixture, not a real price."""
    return _hourly_product("AmazonSageMaker", "ML Instance", {
        "instanceName": instance_type, "regionCode": region, "platoinstancetype": use}, usd_per_hour, published,
        f"${usd_per_hour} per {use} {instance_type} hour")


def rate_price_product(name: str, region: str, usd: float, *,
                       published: str = "2026-11-20T00:00:00Z") -> dict[str, Any]:
    """One unit-rate product of adapters/pricing.RATES (an EBS volume type, EFS Standard, a NAT gateway's hours...) as
    the API reference's example shapes it: its usage type carries the region's billing prefix (core/network.CODES) —
    a test fixture, not a real price."""
    from cost_janitor.adapters.pricing import RATES
    from cost_janitor.core.network import CODES

    query = RATES[name]
    usage = {k: f"{CODES.get(region, 'XX')}-{v.lstrip('-')}" for k, v in query.contains.items()}
    return _hourly_product(query.service, query.family or "Storage", {**query.match, **usage, "regionCode": region},
                           usd, published, f"${usd} per {query.unit}: {query.what}", unit=query.unit)


def _hourly_product(service: str, family: str, attributes: dict[str, str], usd_per_hour: float, published: str,
                    description: str, *, unit: str = "Hrs") -> dict[str, Any]:
    sku = f"SKU{abs(hash((service, *attributes.values()))) % 10 ** 8:08d}"
    return {"formatVersion": "v1.0", "serviceCode": service, "publicationDate": published,
            "product": {"productFamily": family, "sku": sku, "attributes": {
                **attributes, "servicecode": service}},
            "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {
                "sku": sku, "offerTermCode": "JRTCKXETXF", "effectiveDate": published,
                "priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                    "unit": unit, "beginRange": "0", "endRange": "Inf", "pricePerUnit": {"USD": f"{usd_per_hour:.10f}"},
                    "description": description}}}}}}


def seed_price_list(products: list[dict[str, Any]]) -> None:
    """The emulator's Price List API answers GetProducts from these (local/emulator/strict.PRICE_LIST)."""
    from cost_janitor.local.emulator.strict import PRICE_LIST

    PRICE_LIST.extend(products)


def seed_savings_plans(*, total: float, used: float, on_demand_equivalent: float, account_coverage: float,
                       coverage: dict[tuple[str, str], float]) -> None:
    """The account's Savings Plans as Cost Explorer reports them over the window (the API reference's shapes:
    SavingsPlansUtilizationAggregates for the utilization, SavingsPlansCoverageData per filter): `coverage` maps
    (region, instance family) to the share of its eligible spend covered, in %. Fixtures, not an account's figures."""
    from cost_janitor.local.emulator.strict import SAVINGS_PLANS

    def data(pct: float, spend: float = 1000.0) -> dict[str, str]:
        return {"SpendCoveredBySavingsPlans": f"{spend * pct / 100:.2f}",
                "OnDemandCost": f"{spend * (1 - pct / 100):.2f}", "TotalCost": f"{spend:.2f}",
                "CoveragePercentage": f"{pct:.2f}"}

    SAVINGS_PLANS["utilization"] = {
        "Utilization": {"TotalCommitment": f"{total:.2f}", "UsedCommitment": f"{used:.2f}",
                        "UnusedCommitment": f"{total - used:.2f}",
                        "UtilizationPercentage": f"{100 * used / total:.2f}" if total else "0"},
        "Savings": {"NetSavings": f"{on_demand_equivalent - total:.2f}",
                    "OnDemandCostEquivalent": f"{on_demand_equivalent:.2f}"},
        "AmortizedCommitment": {"AmortizedRecurringCommitment": f"{total:.2f}", "AmortizedUpfrontCommitment": "0",
                                "TotalAmortizedCommitment": f"{total:.2f}"}}
    SAVINGS_PLANS["coverage"] = {(None, None): data(account_coverage),
                                 **{(r, f): data(pct) for (r, f), pct in coverage.items()}}


def seed_optimization_hub(recommendations: list[tuple[str, str, float]], *, enrolled: bool = True) -> None:
    """Cost Optimization Hub enrolled (or not) with these EC2 recommendations: (instance id, action type, estimated
    monthly savings), as its Recommendation objects — fixtures, not AWS's estimates."""
    from cost_janitor.local.emulator.strict import OPTIMIZATION_HUB

    OPTIMIZATION_HUB["enrolled"] = enrolled
    OPTIMIZATION_HUB["items"] = [{
        "recommendationId": f"rec-{n}", "accountId": FAKE_ACCOUNT, "region": "us-east-1", "resourceId": instance_id,
        "resourceArn": f"arn:aws:ec2:us-east-1:{FAKE_ACCOUNT}:instance/{instance_id}",
        "currentResourceType": "Ec2Instance", "recommendedResourceType": "Ec2Instance", "actionType": action,
        "estimatedMonthlySavings": usd, "currencyCode": "USD", "source": "ComputeOptimizer"}
        for n, (instance_id, action, usd) in enumerate(recommendations)]


def seed_reservations(*, purchased_hours: float, unused_hours: float, amortized_fee: float,
                      on_demand_cost_of_used: float, coverage: dict[tuple[str, str], float]) -> None:
    """The account's EC2 Reserved Instances as Cost Explorer reports them (the API reference's shapes:
    ReservationAggregates, Coverage with CoverageHours): `coverage` maps (region, instance family) to the share of its
    running hours reservations covered, in %. Fixtures, not an account's figures."""
    from cost_janitor.local.emulator.strict import RESERVATIONS

    used = purchased_hours - unused_hours
    RESERVATIONS["utilization"] = {
        "UtilizationPercentage": f"{100 * used / purchased_hours:.2f}" if purchased_hours else "0",
        "PurchasedHours": f"{purchased_hours:.2f}", "TotalActualHours": f"{used:.2f}",
        "UnusedHours": f"{unused_hours:.2f}", "OnDemandCostOfRIHoursUsed": f"{on_demand_cost_of_used:.2f}",
        "TotalAmortizedFee": f"{amortized_fee:.2f}", "NetRISavings": f"{on_demand_cost_of_used - amortized_fee:.2f}"}
    RESERVATIONS["coverage"] = {(r, f): {"CoverageHours": {
        "TotalRunningHours": "720", "ReservedHours": f"{7.2 * pct:.2f}", "OnDemandHours": f"{720 - 7.2 * pct:.2f}",
        "CoverageHoursPercentage": f"{pct:.2f}"}} for (r, f), pct in coverage.items()}


def seed_resource_costs(daily: dict[str, dict[str, float]], *, enabled: bool = True) -> None:
    """Cost Explorer's resource-level data for the account (GetCostAndUsageWithResources): instance ID → {day (ISO):
    amortized USD}; `enabled` False: the account never turned it on. Fixtures, not an account's figures."""
    from cost_janitor.local.emulator.strict import RESOURCE_COSTS

    RESOURCE_COSTS.update({"enabled": enabled, "daily": daily})
