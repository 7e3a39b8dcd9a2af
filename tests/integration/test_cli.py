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

from cost_janitor.emulator import LocalAws
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
