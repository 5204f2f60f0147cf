"""The migrate guard: where a storage's data lives, whatever the settings' spelling."""

from __future__ import annotations

from pathlib import Path

import pytest

from oppdemo.errors import PlanError
from oppdemo.storage.location import OverlapError, refuse_overlap, storage_location

from .projects import needs_symlinks


def _s3(endpoint: str | None, bucket: str = "b", prefix: str = "") -> dict[str, str]:
    env = {"STORAGE_TYPE": "s3", "S3_BUCKET": bucket, "S3_PREFIX": prefix}
    if endpoint is not None:
        env["S3_ENDPOINT_URL"] = endpoint
    return env


def _refused(source: dict[str, str], target: dict[str, str], project: Path) -> str | None:
    try:
        refuse_overlap(storage_location(source, project), storage_location(target, project))
    except OverlapError as error:
        return str(error)
    return None


@pytest.mark.parametrize(
    ("source", "target", "why"),
    [
        (_s3("http://localhost:9000"), _s3("HTTP://127.0.0.1:9000/"), "same storage"),
        (_s3("http://[::1]:80", prefix="a"), _s3("http://localhost", prefix="/a/"), "same storage"),
        (_s3("https://u:p@s3.test", prefix="old"), _s3("https://S3.test:443"), "inside the target"),
        (_s3("https://s3.test"), _s3("https://s3.test", prefix="new/sub"), "inside the source"),
        (_s3(None, prefix="x"), _s3(None, prefix="x/y"), "inside the source"),
    ],
)  # fmt: skip
def test_overlapping_buckets_are_refused_whatever_the_spelling(
    tmp_path: Path, source: dict[str, str], target: dict[str, str], why: str
) -> None:
    message = _refused(source, target, tmp_path)
    assert message is not None and why in message
    assert "u:p" not in message


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (_s3("http://localhost", prefix="photos"), _s3("http://localhost", prefix="photos-moved")),
        (_s3("http://localhost:9000"), _s3("http://localhost:9001")),
        (_s3("http://localhost:9000"), _s3("https://localhost:9000")),
        (_s3("http://localhost:9000", "one"), _s3("http://localhost:9000", "two")),
        (_s3(None, prefix="a"), {"STORAGE_TYPE": "filesystem"}),
    ],
)  # fmt: skip
def test_disjoint_storages_are_allowed(
    tmp_path: Path, source: dict[str, str], target: dict[str, str]
) -> None:
    assert _refused(source, target, tmp_path) is None


def test_folders_are_compared_by_real_path(tmp_path: Path) -> None:
    (tmp_path / "static/uploads").mkdir(parents=True)
    uploads = {"UPLOAD_DIR": "static/uploads"}
    assert "inside the target" in (_refused(uploads, {"UPLOAD_DIR": "static"}, tmp_path) or "")
    assert "inside the source" in (_refused({"UPLOAD_DIR": "static"}, uploads, tmp_path) or "")
    spelled = {"UPLOAD_DIR": str(tmp_path / "static" / "." / "uploads")}
    assert "same storage" in (_refused(uploads, spelled, tmp_path) or "")
    assert "same storage" in (_refused({}, uploads, tmp_path) or ""), "the default folder"
    assert _refused(uploads, {"UPLOAD_DIR": "static/uploads-old"}, tmp_path) is None


@needs_symlinks
def test_a_linked_folder_is_the_folder_it_links_to(tmp_path: Path) -> None:
    (tmp_path / "static/uploads").mkdir(parents=True)
    (tmp_path / "uploads-link").symlink_to(tmp_path / "static/uploads", target_is_directory=True)
    message = _refused({"UPLOAD_DIR": "uploads-link"}, {"UPLOAD_DIR": "static"}, tmp_path)
    assert message is not None and "inside the target" in message


@pytest.mark.parametrize(
    "spelling",
    ["http://0.0.0.0:9000", "http://[::ffff:127.0.0.1]:9000", "http://2130706433:9000",
     "http://0x7f.1:9000", "http://[::1]:9000", "http://LOCALHOST:9000/"],
)  # fmt: skip
def test_every_spelling_of_this_machine_is_one_server(tmp_path: Path, spelling: str) -> None:
    message = _refused(_s3("http://127.0.0.1:9000", prefix="p"), _s3(spelling), tmp_path)
    assert message is not None and "inside the target" in message


@pytest.mark.parametrize(
    "endpoint", [None, "https://s3.amazonaws.com", "https://s3.eu-west-1.amazonaws.com",
                 "https://prod.s3.amazonaws.com"],
)  # fmt: skip
def test_every_aws_endpoint_is_one_place_for_a_bucket(tmp_path: Path, endpoint: str | None) -> None:
    source = {**_s3(None, prefix="old"), "S3_REGION": "us-east-1"}
    target = {**_s3(endpoint), "S3_REGION": "eu-west-1"}
    assert "inside the target" in (_refused(source, target, tmp_path) or "")


def test_a_folder_name_is_taken_as_the_storage_takes_it(tmp_path: Path) -> None:
    (tmp_path / "up ").mkdir()
    message = _refused({"UPLOAD_DIR": "up "}, {"UPLOAD_DIR": "up /sub"}, tmp_path)
    assert message is not None and "inside the source" in message
    assert _refused({"UPLOAD_DIR": "up "}, {"UPLOAD_DIR": "up"}, tmp_path) is None


def test_a_host_name_is_judged_by_the_addresses_it_resolves_to(tmp_path: Path) -> None:
    import socket

    # Every name of this machine is one host: its own name resolves to loopback on most.
    name = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    source = _s3("http://127.0.0.1:5055", prefix="uploads")
    if any(address.startswith("127.") or address == "::1" for address in addresses):
        assert _refused(source, _s3(f"http://{name}:5055"), tmp_path)
    else:  # resolves to this machine's network address: that address is the same server
        address = sorted(addresses)[0]
        named = _s3(f"http://{name}:5055", prefix="uploads")
        assert _refused(named, _s3(f"http://{address}:5055"), tmp_path)
    assert _refused(source, _s3("http://no-such-host.invalid:5055"), tmp_path) is None


def test_an_endpoint_from_the_aws_environment_is_the_one_botocore_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")
    source = _s3("http://localhost:5055", prefix="uploads")
    assert _refused(source, _s3(None), tmp_path)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:6066")
    assert _refused(source, _s3(None), tmp_path) is None


def test_a_bind_mount_of_the_source_is_the_source(tmp_path: Path) -> None:
    import subprocess

    (tmp_path / "src/up").mkdir(parents=True)
    (tmp_path / "bind").mkdir()
    mounted = subprocess.run(
        ["mount", "--bind", str(tmp_path / "src"), str(tmp_path / "bind")],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"bind mounts need root on Linux: {mounted.stderr.strip()}")
    try:
        source = {"UPLOAD_DIR": str(tmp_path / "src/up")}
        assert _refused(source, {"UPLOAD_DIR": str(tmp_path / "bind")}, tmp_path)
        assert _refused({"UPLOAD_DIR": str(tmp_path / "bind/up")}, source, tmp_path)
    finally:
        subprocess.run(["umount", "-l", str(tmp_path / "bind")], check=False)


def _config_file(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "aws-config"
    path.write_text(text)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))


def test_an_endpoint_from_the_aws_config_file_is_the_one_botocore_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config_file(tmp_path, "[default]\nendpoint_url = http://127.0.0.1:5001\n", monkeypatch)
    source = _s3("http://localhost:5001/", prefix="photos")
    message = _refused(source, _s3(None), tmp_path)
    assert message is not None and "inside the target" in message
    # The target is named by the endpoint botocore uses, not as AWS.
    assert "bucket b at http://127.0.0.1:5001" in message and "AWS" not in message
    assert _refused(_s3("http://localhost:5002/", prefix="photos"), _s3(None), tmp_path) is None


def test_a_profile_of_the_aws_config_file_is_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config_file(
        tmp_path,
        "[default]\nendpoint_url = http://127.0.0.1:7001\n"
        "[profile minio]\nservices = local\n"
        "[services local]\ns3 =\n  endpoint_url = http://[::1]:7002/\n",
        monkeypatch,
    )
    source = _s3("http://127.0.0.1:7002", prefix="photos")
    assert _refused(source, _s3(None), tmp_path) is None, "the default profile: port 7001"
    monkeypatch.setenv("AWS_PROFILE", "minio")
    assert "inside the target" in (_refused(source, _s3(None), tmp_path) or "")
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    with pytest.raises(PlanError, match="no-such-profile.*AWS_PROFILE"):
        _refused(source, _s3(None), tmp_path)


@pytest.mark.parametrize(
    "spelling",
    ["http://127.0.0.1:5001/.", "http://127.0.0.1:5001/./", "http://127.0.0.1:5001//",
     "http://127.0.0.1:5001/%2E", "http://127.0.0.1:5001/x/..", "http://127.0.0.1.:5001"],
)  # fmt: skip
def test_dot_segments_and_slashes_in_an_endpoint_are_one_place(
    tmp_path: Path, spelling: str
) -> None:
    message = _refused(_s3("http://127.0.0.1:5001", prefix="photos"), _s3(spelling), tmp_path)
    assert message is not None and "inside the target" in message


def test_an_endpoint_path_still_tells_servers_apart(tmp_path: Path) -> None:
    source = _s3("https://gateway.test/s3-one", prefix="photos")
    assert _refused(source, _s3("https://gateway.test/s3-two"), tmp_path) is None
    assert _refused(source, _s3("https://GATEWAY.test:443/s3-one/./"), tmp_path)
