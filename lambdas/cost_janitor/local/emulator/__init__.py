"""The local AWS for tests, the demo and the benchmarks: a moto server on loopback, plus the janitor's own
resources created the way the stack creates them. Not part of the Lambda asset.

One package, along its jobs: strict.py (the patches that make moto as strict as AWS), server.py (the server and
boto3 pointed at it), deploy.py (what the stacks create), seeding.py (a realistic ML account).
"""

from cost_janitor.local.emulator.deploy import (
    HUB_BUS,
    HUB_STARTED_QUEUE,
    LOCAL_DASHBOARD,
    MEMBER_BUS,
    deploy_hub_bus,
    deploy_janitor_resources,
    deploy_member_bus,
    subscribe_queue,
)
from cost_janitor.local.emulator.seeding import (
    MetricSeeder,
    at_naive,
    backdate,
    gpu_dimensions,
    launch,
    seed_endpoint,
    seed_endpoint_metrics,
    seed_instance_metrics,
    seed_notebook,
    seed_studio_app,
    seed_studio_domain,
    set_endpoint_status,
    system_tags,
)
from cost_janitor.local.emulator.server import FAKE_ACCOUNT, FAKE_ENV, LocalAws, pointed_at, start_moto
from cost_janitor.local.emulator.strict import LAMBDA_CONCURRENCY, S3_DEFAULT_MIN_OBJECT_SIZE, bus_admits

__all__ = ["FAKE_ACCOUNT", "FAKE_ENV", "HUB_BUS", "HUB_STARTED_QUEUE", "LAMBDA_CONCURRENCY", "LOCAL_DASHBOARD",
           "MEMBER_BUS", "S3_DEFAULT_MIN_OBJECT_SIZE", "LocalAws", "MetricSeeder", "at_naive", "backdate",
           "bus_admits", "deploy_hub_bus", "deploy_janitor_resources", "deploy_member_bus", "gpu_dimensions",
           "launch", "pointed_at", "seed_endpoint", "seed_endpoint_metrics", "seed_instance_metrics", "seed_notebook",
           "seed_studio_app", "seed_studio_domain", "set_endpoint_status", "start_moto", "subscribe_queue",
           "system_tags"]
