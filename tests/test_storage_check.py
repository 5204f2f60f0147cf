"""`storage check --origin`: the CORS advice keeps the bucket's own rules, the preflight goes
where the app's presigned POST goes, and the summary names every failed step. Against moto in
a process of its own that answers preflights only as the bucket's CORS rules say, and on
LocalStack where more than one rule is needed."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import boto3
import pytest

from oppdemo.storage.check import SERVED_FOLDERS, cors_rule, public_read_policy

from .conftest import ACCESS_KEY, SECRET_KEY
from .projects import make_s3_app, run_cli
from .test_direct_uploads import cors_moto_endpoint, localstack_endpoint  # noqa: F401 - fixtures

ORIGIN = "https://app.example"
# A rule of the bucket's own, for another site: the advice must keep it.
THEIRS = {
    "ID": "their-site",
    "AllowedOrigins": ["https://shop.example"],
    "AllowedMethods": ["GET"],
    "AllowedHeaders": ["Authorization"],
    "MaxAgeSeconds": 60,
}


def _project(tmp_path: Path, endpoint: str, key: str, secret: str) -> tuple[Path, Any, str]:
    """A project whose .env names a new bucket at `endpoint`, a client of it, the bucket."""
    import uuid

    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key,
                          aws_secret_access_key=secret, region_name="us-east-1")  # fmt: skip
    bucket = f"check-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    return make_s3_app(tmp_path, endpoint, bucket, key, secret), client, bucket


@pytest.fixture
def bucket_project(tmp_path: Path, cors_moto_endpoint: str) -> tuple[Path, Any, str]:  # noqa: F811
    """On moto, whose preflights follow the bucket's first CORS rule only."""
    return _project(tmp_path, cors_moto_endpoint, ACCESS_KEY, SECRET_KEY)


@pytest.fixture
def ruled_project(tmp_path: Path, localstack_endpoint: str) -> tuple[Path, Any, str]:  # noqa: F811
    """On LocalStack, whose preflights take the first rule that matches, as AWS's do."""
    return _project(tmp_path, localstack_endpoint, "test", "test")


def _steps(project: Path) -> dict[str, Any]:
    result = run_cli(project, "storage", "check", "--origin", ORIGIN, "--json")
    assert "Traceback" not in result.stderr, result.stderr
    return {step["name"]: step for step in json.loads(result.stdout)["steps"]}


def _printed_configuration(detail: str) -> dict[str, Any]:
    """The --cors-configuration of the put-bucket-cors command on the step's line."""
    command = shlex.split(detail[detail.index("aws s3api put-bucket-cors") :])
    return dict(json.loads(command[command.index("--cors-configuration") + 1]))


def test_the_printed_cors_configuration_keeps_the_bucket_rules(
    ruled_project: tuple[Path, Any, str],
) -> None:
    project, client, bucket = ruled_project
    client.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [THEIRS]})
    failed = _steps(project)["CORS allows uploads"]
    assert failed["ok"] is False
    assert "keeps the 1 rule(s) there" in failed["detail"]
    printed = _printed_configuration(failed["detail"])
    assert printed["CORSRules"][0] == THEIRS
    assert printed["CORSRules"][1]["AllowedOrigins"] == [ORIGIN]

    client.put_bucket_cors(Bucket=bucket, CORSConfiguration=printed)
    assert _steps(project)["CORS allows uploads"]["ok"] is True
    assert client.get_bucket_cors(Bucket=bucket)["CORSRules"][0] == THEIRS


def test_the_summary_names_every_failed_step(bucket_project: tuple[Path, Any, str]) -> None:
    # A private bucket without CORS rules: its photos are not served, and browsers may not
    # post to it; both are said, the second checked although the first failed.
    project, _, _ = bucket_project
    result = run_cli(project, "storage", "check", "--origin", ORIGIN)
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("Check failed: URL serves the probe, CORS allows uploads ("), summary
    assert "the fix is on each one's line" in summary
    steps = json.loads(run_cli(project, "storage", "check", "--origin", ORIGIN, "--json").stdout)
    assert steps["failed"] == ["URL serves the probe", "CORS allows uploads"]


def test_a_bucket_without_rules_gets_the_rule_alone(bucket_project: tuple[Path, Any, str]) -> None:
    project, client, bucket = bucket_project
    policy = public_read_policy(bucket, only=SERVED_FOLDERS)
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    failed = _steps(project)["CORS allows uploads"]
    assert "the bucket has no rules yet" in failed["detail"]
    printed = _printed_configuration(failed["detail"])
    assert [rule["AllowedOrigins"] for rule in printed["CORSRules"]] == [[ORIGIN]]


@pytest.mark.parametrize(
    "given",
    ["https://app.example/", "app.example", "https://app.example/page", "ftp://app.example"],
)
def test_an_origin_that_is_not_one_is_refused(
    bucket_project: tuple[Path, Any, str], given: str
) -> None:
    project, _, _ = bucket_project
    result = run_cli(project, "storage", "check", "--origin", given)
    assert result.returncode == 2
    assert "is not an origin" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_an_origin_is_taken_as_a_browser_sends_it(bucket_project: tuple[Path, Any, str]) -> None:
    project, _, bucket = bucket_project
    result = run_cli(project, "storage", "check", "--origin", "HTTPS://App.Example:443", "--json")
    steps = {step["name"]: step for step in json.loads(result.stdout)["steps"]}
    printed = _printed_configuration(steps["CORS allows uploads"]["detail"])
    assert printed["CORSRules"][-1]["AllowedOrigins"] == [ORIGIN]
    assert bucket in steps["CORS allows uploads"]["detail"]


@pytest.fixture
def unreadable_rules_project(tmp_path: Path) -> Any:
    """A project whose keys may do anything in the bucket but read its CORS rules (moto
    checks the keys' IAM policy once the first five requests have made the user)."""
    from .conftest import moto_process

    with moto_process(INITIAL_NO_AUTH_ACTION_COUNT="5", MOTO_DISABLE_GLOBAL_CORS="true") as url:
        admin = {"endpoint_url": url, "aws_access_key_id": ACCESS_KEY,
                 "aws_secret_access_key": SECRET_KEY, "region_name": "us-east-1"}  # fmt: skip
        boto3.client("s3", **admin).create_bucket(Bucket="their-rules")
        iam = boto3.client("iam", **admin)
        iam.create_user(UserName="app")
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:GetBucketCORS", "Resource": "*"}]}  # fmt: skip
        iam.put_user_policy(UserName="app", PolicyName="no-cors", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="app")["AccessKey"]
        yield make_s3_app(tmp_path, url, "their-rules", key["AccessKeyId"], key["SecretAccessKey"])


def test_rules_that_cannot_be_read_are_never_replaced(unreadable_rules_project: Path) -> None:
    failed = _steps(unreadable_rules_project)["CORS allows uploads"]
    assert failed["ok"] is False
    assert "could not be read (AccessDenied)" in failed["detail"]
    # No whole configuration, which would drop the rules it could not see: the rule to add.
    assert "put-bucket-cors --bucket" not in failed["detail"]
    assert failed["detail"].endswith(json.dumps(cors_rule(ORIGIN)))


def test_the_preflight_goes_where_the_post_goes_not_to_the_cdn(
    bucket_project: tuple[Path, Any, str],
) -> None:
    project, _, bucket = bucket_project
    settings = (project / ".env").read_text()
    endpoint = next(line.split("=", 1)[1] for line in settings.splitlines()
                    if line.startswith("S3_ENDPOINT_URL="))  # fmt: skip
    # A CDN that does not answer: photos are not served, uploads are still checked.
    (project / ".env").write_text(f"{settings}S3_CDN_URL=http://127.0.0.1:1/{bucket}\n")
    steps = _steps(project)
    assert steps["URL serves the probe"]["ok"] is False
    cors = steps["CORS allows uploads"]
    assert cors["ok"] is False and f"at {endpoint}/{bucket}:" in cors["detail"]
    assert "127.0.0.1:1" not in cors["detail"]
