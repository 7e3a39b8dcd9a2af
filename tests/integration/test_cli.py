"""`cost-janitor` as a user runs it: a separate process talking to the moto server over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cost_janitor.local.emulator import LocalAws
from tests.conftest import EVENTS, ROOT
from tests.integration.fleet import DEV, Fleet

CLI = str(Path(sys.executable).parent / "cost-janitor")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def idle_box(aws: LocalAws, janitor: Any) -> Fleet:
    janitor()
    fleet = Fleet(aws, datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    fleet.add("idle-dev", "m5.large", DEV, cpu=0.7)
    fleet.add("busy", "c5.large", DEV, cpu=70)
    return fleet.done()


def test_sweep_is_dry_run_by_default_and_prints_machine_readable_findings(idle_box: Fleet) -> None:
    result = _cli("sweep", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["summary"]["dry_run"] is True
    verdicts = {f["resource_id"]: (f["verdict"], f["action"], f["action_status"]) for f in out["findings"]}
    assert verdicts[idle_box.ids["idle-dev"]] == ("idle", "mark-idle", "dry-run")
    assert verdicts[idle_box.ids["busy"]] == ("busy", None, None)
    assert "cost-janitor:idle-since" not in idle_box.tags("idle-dev")


def test_sweep_prints_a_table_for_people(idle_box: Fleet) -> None:
    result = _cli("sweep")
    assert result.returncode == 0, result.stderr
    assert idle_box.ids["idle-dev"] in result.stdout and "mark-idle [dry-run]" in result.stdout
    assert "70.08" in result.stdout  # m5.large: 0.096 $/h x 730 h
    assert "(+ 1 busy instance(s) not shown)" in result.stdout


def test_sweep_runs_exactly_the_families_asked_and_names_the_known_ones(idle_box: Fleet, aws: LocalAws) -> None:
    """`--families addresses`: only the addresses family reads (no instance is judged); an unknown name is one clear
    line listing the families there are."""
    ec2 = aws.client("ec2")
    allocation = ec2.allocate_address(Domain="vpc", TagSpecifications=[{
        "ResourceType": "elastic-ip", "Tags": [{"Key": "environment", "Value": "dev"}]}])["AllocationId"]
    result = _cli("sweep", "--families", "addresses", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [(f["resource_id"], f["verdict"], f["action"], f["action_status"]) for f in out["findings"]] == [
        (allocation, "unattached", "mark-idle", "dry-run")]
    assert out["summary"]["api_calls"] == {"DescribeAddresses": 1}
    unknown = _cli("sweep", "--families", "addresses,nat-gateways")
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert ("choose from addresses, amis, ec2-instances, ecr, efs, eks, endpoints, fsx, network, notebooks, studio "
            "(got nat-gateways)" in unknown.stderr)


def test_invoke_runs_the_lambda_handler_and_apply_acts(idle_box: Fleet) -> None:
    event = str(EVENTS / "eventbridge/scheduled_nightly_sweep.json")
    result = _cli("invoke", "idle-sweep", event, "--json", "--apply")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["dry_run"] is False and summary["actions"] == {"mark-idle:done": 1}
    assert "cost-janitor:idle-since" in idle_box.tags("idle-dev")


def test_invoke_with_missing_wiring_names_the_variable(idle_box: Fleet) -> None:
    event = str(EVENTS / "eventbridge/scheduled_nightly_sweep.json")
    result = _cli("invoke", "idle_sweep", event, env={"LEDGER_TABLE": ""})
    assert result.returncode == 2 and "LEDGER_TABLE" in result.stderr


def test_unknown_capability_is_a_clear_error() -> None:
    result = _cli("invoke", "terminator", str(EVENTS / "eventbridge/scheduled_nightly_sweep.json"))
    assert result.returncode != 0 and "unknown capability 'terminator'" in result.stderr


def test_tags_checks_an_event_file_in_dry_run_and_reports_coverage(aws: LocalAws, janitor: Any) -> None:
    janitor()
    aws.client("s3").create_bucket(Bucket="acme-ml-new-features")
    result = _cli("tags", "--event", str(EVENTS / "cloudtrail/create_bucket.json"), "--json")
    assert result.returncode == 0, result.stderr
    [finding] = json.loads(result.stdout)
    assert (finding["verdict"], finding["action"], finding["action_status"]) == (
        "non-compliant", "tag-created-by", "dry-run")
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError, match="NoSuchTagSet"):  # dry-run: nothing was written
        aws.client("s3").get_bucket_tagging(Bucket="acme-ml-new-features")
    report = _cli("tags", "--report")
    assert report.returncode == 0 and "tag coverage over" in report.stdout


def test_storage_prints_the_lifecycle_diff(aws: LocalAws, janitor: Any) -> None:
    janitor()
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="ml-raw")
    s3.put_bucket_tagging(Bucket="ml-raw", Tagging={"TagSet": [{"Key": "cost-janitor:lifecycle-profile",
                                                                "Value": "ml"}]})
    result = _cli("storage", "--bucket", "ml-raw")
    assert result.returncode == 0, result.stderr
    assert "--- ml-raw: lifecycle configuration (dry-run: not written)" in result.stdout
    assert '+      "ID": "cost-janitor:ml:training-data/",' in result.stdout



def test_storage_services_runs_the_storage_families_dry_run_and_refuses_unknown_ones(aws: LocalAws,
                                                                                     janitor: Any) -> None:
    """`storage --services ecr`: the ECR family judged as the nightly sweep judges it, nothing written (dry-run), no
    lifecycle run; an unknown service is one line naming the known ones."""
    from cost_janitor.local.emulator.seeding import seed_repository

    janitor()
    seed_repository(aws, "detector", tags={"environment": "dev", "team": "cv", "owner": "cy@example.com"},
                    images=[((), 2.0, 30, 28), ((), 2.0, 31, None)])
    result = _cli("storage", "--services", "ecr", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"families"}  # the lifecycle run was not asked for
    assert out["families"]["summary"]["families"] == ["ecr"]
    [found] = [f for f in out["families"]["findings"] if f["resource_id"] == "detector"]
    assert found["verdict"] == "change-proposed"
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError, match="LifecyclePolicyNotFound"):  # dry-run: no policy written
        aws.client("ecr").get_lifecycle_policy(repositoryName="detector")
    unknown = _cli("storage", "--services", "efs,glacier")
    assert unknown.returncode == 2 and "choose from lifecycle, efs, ecr, fsx, amis (got glacier)" in unknown.stderr

# --- a real laptop: a clean environment, a temporary HOME with ~/.aws, no IMDS ------------------------------------

def _laptop(home: Path, endpoint: str, **env: str) -> dict[str, str]:
    """What a user's shell holds: PATH, HOME and the emulator's endpoint — no AWS_* variables unless given."""
    return {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ENDPOINT_URL": endpoint,
            "AWS_EC2_METADATA_DISABLED": "true",  # a laptop has no instance metadata service; never look for one
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"), **env}


def _aws_files(home: Path, *, config: str, credentials: str = "") -> None:
    (home / ".aws").mkdir(parents=True, exist_ok=True)
    (home / ".aws" / "config").write_text(config)
    (home / ".aws" / "credentials").write_text(credentials)


def _run_clean(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)


KEYS = "[{name}]\naws_access_key_id = testing\naws_secret_access_key = testing\n"


def test_the_region_comes_from_the_profile_when_only_aws_config_sets_it(idle_box: Fleet, tmp_path: Path) -> None:
    _aws_files(tmp_path, config="[default]\nregion = us-east-1\n", credentials=KEYS.format(name="default"))
    env = _laptop(tmp_path, idle_box.aws.endpoint)
    for args in (("sweep", "--json"), ("sweep", "--region", "us-east-1", "--json")):
        result = _run_clean(*args, env=env)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["summary"]["regions"] == ["us-east-1"]


def test_aws_default_region_alone_is_enough(idle_box: Fleet, tmp_path: Path) -> None:
    _aws_files(tmp_path, config="", credentials=KEYS.format(name="default"))
    result = _run_clean("sweep", "--region", "us-east-1", "--json",
                        env=_laptop(tmp_path, idle_box.aws.endpoint, AWS_DEFAULT_REGION="us-east-1"))
    assert result.returncode == 0, result.stderr


def test_profile_chooses_the_credentials_and_the_region(idle_box: Fleet, tmp_path: Path) -> None:
    _aws_files(tmp_path, config="[profile janitor]\nregion = us-west-2\n", credentials=KEYS.format(name="janitor"))
    result = _run_clean("sweep", "--profile", "janitor", "--json", env=_laptop(tmp_path, idle_box.aws.endpoint))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["summary"]["regions"] == ["us-west-2"]
    unknown = _run_clean("sweep", "--profile", "nobody", env=_laptop(tmp_path, idle_box.aws.endpoint))
    assert unknown.returncode != 0 and "nobody" in unknown.stderr and "Traceback" not in unknown.stderr


def test_no_region_anywhere_is_one_clear_line(idle_box: Fleet, tmp_path: Path) -> None:
    _aws_files(tmp_path, config="", credentials=KEYS.format(name="default"))
    result = _run_clean("sweep", env=_laptop(tmp_path, idle_box.aws.endpoint))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "cost-janitor: no AWS region: pass --region, set AWS_REGION, or set `region` for your profile in "
        "~/.aws/config"]


def test_no_credentials_is_one_clear_line_not_a_traceback(idle_box: Fleet, tmp_path: Path) -> None:
    _aws_files(tmp_path, config="[default]\nregion = us-east-1\n")
    for command in (("sweep",), ("storage",), ("tags", "--report")):
        result = _run_clean(*command, env=_laptop(tmp_path, idle_box.aws.endpoint))
        assert result.returncode == 3, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("cost-janitor: no AWS credentials found") and "aws sso login" in line


def test_an_unreachable_endpoint_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    _aws_files(tmp_path, config="[default]\nregion = us-east-1\n", credentials=KEYS.format(name="default"))
    result = _run_clean("sweep", env=_laptop(tmp_path, closed))
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("cost-janitor: cannot reach AWS (Could not connect to the endpoint URL")


class _RefusingAws:
    """An AWS endpoint on loopback answering as AWS does when credentials have expired (STS: ExpiredToken) or
    are valid but may read nothing (EC2: UnauthorizedOperation; JSON-protocol services such as SageMaker:
    AccessDeniedException)."""

    STS_OK = ('<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
              '<Arn>arn:aws:iam::123456789012:user/ana</Arn><UserId>AIDAEXAMPLE</UserId><Account>123456789012'
              '</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>'
              '</GetCallerIdentityResponse>')
    STS_EXPIRED = ('<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                   '<Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message>'
                   '</Error><RequestId>2</RequestId></ErrorResponse>')
    EC2_DENIED = ('<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to '
                  'perform this operation.</Message></Error></Errors><RequestID>3</RequestID></Response>')
    JSON_DENIED = '{"__type": "AccessDeniedException", "message": "User is not authorized to perform this action"}'

    def __init__(self, *, expired: bool) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.expired = expired

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                kind = "text/xml"
                if "Action=GetCallerIdentity" in body:
                    status, text = (403, outer.STS_EXPIRED) if outer.expired else (200, outer.STS_OK)
                elif self.headers.get("X-Amz-Target"):  # JSON-protocol services (SageMaker, tagging) answer in JSON
                    status, text, kind = 400, outer.JSON_DENIED, "application/x-amz-json-1.1"
                else:
                    status, text = 403, outer.EC2_DENIED
                payload = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.mark.parametrize("expired, says", [
    (True, "your AWS credentials were refused (ExpiredToken on GetCallerIdentity)"),
    (False, "access denied in every region swept (us-east-1: UnauthorizedOperation)"),
], ids=["expired-token", "access-denied-on-the-first-call"])
def test_refused_credentials_are_one_clear_line(tmp_path: Path, expired: bool, says: str) -> None:
    aws = _RefusingAws(expired=expired)
    try:
        _aws_files(tmp_path, config="[default]\nregion = us-east-1\n", credentials=KEYS.format(name="default"))
        result = _run_clean("sweep", env=_laptop(tmp_path, aws.endpoint))
    finally:
        aws.server.shutdown()
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert says in result.stderr.strip().splitlines()[-1], result.stderr


# --- one Slack app: the manifest from the hub stack's output ------------------------------------------------------

HUB_URL = "https://x4hub2b7yq.lambda-url.us-east-1.on.aws/slack/actions"


def _stack(aws: LocalAws, name: str, outputs: dict[str, str]) -> None:
    """A CloudFormation stack in the emulator with these outputs (what `cdk deploy` leaves behind)."""
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    aws.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_slack_manifest_takes_the_request_url_from_the_hub_stacks_output(aws: LocalAws, tmp_path: Path) -> None:
    _stack(aws, "CostJanitorHub", {"SlackInteractivityUrl": HUB_URL, "LedgerTableName": "t"})
    result = _cli("slack-manifest", "--stack", "CostJanitorHub", "--name", "acme-janitor")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["settings"]["interactivity"] == {"is_enabled": True, "request_url": HUB_URL}
    assert document["features"]["bot_user"]["display_name"] == "acme-janitor"
    out = tmp_path / "manifest.json"
    written = _cli("slack-manifest", "--stack", "CostJanitorHub", "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert json.loads(out.read_text())["settings"]["interactivity"]["request_url"] == HUB_URL
    assert "From an app manifest" in written.stderr


def test_slack_manifest_names_what_is_wrong_with_the_stack(aws: LocalAws) -> None:
    _stack(aws, "CostJanitorMember", {"LedgerTableName": "t"})
    member = _cli("slack-manifest", "--stack", "CostJanitorMember")
    assert member.returncode == 2 and "has no SlackInteractivityUrl output" in member.stderr
    missing = _cli("slack-manifest", "--stack", "NoSuchStack")
    assert missing.returncode == 2 and "no stack 'NoSuchStack' in us-east-1" in missing.stderr
    plain = _cli("slack-manifest", "--url", "http://insecure.example/slack/actions")
    assert plain.returncode == 2 and "https" in plain.stderr


def test_preflight_says_before_the_deploy_that_a_low_concurrency_account_cannot_reserve_any(
        aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lambda keeps 100 of the account's concurrency unreserved: an account with the new-account limit of 10 cannot
    reserve the Slack endpoint's 5, and `cdk deploy` would fail halfway; preflight says what to change."""
    from cost_janitor.local.emulator import strict

    ok = _cli("preflight")
    assert ok.returncode == 0 and "ok: Lambda concurrency 1000 (1000 unreserved)" in ok.stdout, ok.stderr
    monkeypatch.setattr(strict, "LAMBDA_CONCURRENCY", 10)  # the server runs in this process
    low = _cli("preflight")
    assert low.returncode == 1
    assert "limit is 10 with 10 unreserved" in low.stderr and "slack_reserved_concurrency=0" in low.stderr
    assert _cli("preflight", "--slack-reserved-concurrency", "0").returncode == 0  # no reservation: it deploys


def test_prices_prints_the_price_with_its_source_and_says_why_when_there_is_none() -> None:
    known = _cli("prices", "--region", "us-east-1", "--type", "g5.xlarge")
    assert known.returncode == 0 and "$1.006/hour" in known.stdout and "table of 2025-05-01" in known.stdout
    unknown = _cli("prices", "--region", "ap-southeast-2", "--type", "g5.xlarge", "--json")
    assert unknown.returncode == 1 and "Traceback" not in unknown.stderr
    answer = json.loads(unknown.stdout)
    assert answer["hourly_usd"] is None and "no offline price table for region ap-southeast-2" in answer["source"]


def test_prices_asks_the_price_list_api_where_the_table_has_none(aws: LocalAws) -> None:
    from cost_janitor.local.emulator.seeding import sagemaker_price_product, seed_price_list

    seed_price_list([sagemaker_price_product("ml.g6e.xlarge", "eu-central-1", 2.5)])
    found = _cli("prices", "--region", "eu-central-1", "--type", "ml.g6e.xlarge", "--price-list")
    assert found.returncode == 0, found.stderr
    assert "$2.5/hour" in found.stdout and "AWS Price List API, SageMaker AI hosting, eu-central-1" in found.stdout
    missing = _cli("prices", "--region", "eu-central-1", "--type", "ml.g6e.2xlarge", "--price-list")
    assert missing.returncode == 1 and "the Price List API has no single on-demand price" in missing.stdout


def test_prices_names_a_storage_or_network_rate_with_its_source(aws: LocalAws) -> None:
    """#26: `prices --type efs:standard` (the rates of adapters/pricing.RATES) prints the rate the family uses: the
    offline table's where it has one (no call), the Price List API's elsewhere with --price-list."""
    from cost_janitor.local.emulator.seeding import rate_price_product, seed_price_list

    seed_price_list([rate_price_product("nat:bytes", "eu-west-1", 0.048, published="2026-11-05T00:00:00Z")])
    found = _cli("prices", "--region", "eu-west-1", "--type", "nat:bytes", "--price-list")
    assert found.returncode == 0, found.stderr
    assert ("$0.048 per GB — AWS Price List API, NAT gateway data processed per GB, eu-west-1, published 2026-11-05"
            in found.stdout)
    offline = _cli("prices", "--region", "us-east-1", "--type", "efs:standard")
    assert offline.returncode == 0 and "$0.3 per GB-Mo — Amazon EFS pricing" in offline.stdout
    for name, shown in (("s3:STANDARD", "$0.023 per GB-Mo — S3 list prices"),
                        ("logs:storage", "$0.03 per GB-Mo — CloudWatch Logs storage list price")):
        rate = _cli("prices", "--region", "us-east-1", "--type", name)  # every RATES name the families use
        assert rate.returncode == 0 and shown in rate.stdout, rate.stderr
    missing = _cli("prices", "--region", "eu-west-1", "--type", "ecr:storage", "--price-list")
    assert missing.returncode == 1 and "unknown: no ecr:storage price for eu-west-1" in missing.stdout
