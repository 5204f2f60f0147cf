"""Where a storage keeps its data, read from its settings: a migration must never run onto
itself, into its own subtree, or out of it.

Locations are compared by where the data lives, not by how the settings spell it: the real
path of a folder; for S3 the bucket, the prefix and the endpoint botocore will actually use
(S3_ENDPOINT_URL, else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the AWS config file's profile:
botocore is asked, never second-guessed), normalised (scheme, lower-cased host, default port,
the loopback names as one host, no user info, the path without `.` segments or a trailing `/`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from oppdemo.errors import PlanError

_LOOPBACK = {"localhost", "ip6-localhost"}


class OverlapError(PlanError):
    """The source and the target of a migration share data."""


@dataclass(frozen=True)
class Location:
    """A container (a folder's drive, or a bucket) and a path inside it; for a bucket, the
    endpoint as the settings give it and, once botocore was asked, the one it uses."""

    container: str
    path: str
    shown: str
    written_endpoint: str | None = None
    region: str = "us-east-1"
    # The endpoint botocore uses, normalised ("aws" for AWS's own), and as shown.
    server: str | None = None
    server_shown: str = ""

    def contains(self, other: Location) -> bool:
        """Whether every key of `other` lives inside this location (or is the same). Folders
        are also compared by identity (device and inode), which sees through bind mounts."""
        if self.container != other.container or self.server != other.server:
            return False
        if other.path.startswith(self.path):
            return True
        return self.container == "filesystem" and _folder_holds(self.path, other.path)


def _folder_holds(outer: str, inner: str) -> bool:
    """Whether `inner` or one of its parents is the very folder `outer` (by device and inode)."""
    try:
        wanted = os.stat(outer)
    except OSError:
        return False
    folder = Path(inner)
    for candidate in (folder, *folder.parents):
        try:
            found = os.stat(candidate)
        except OSError:
            continue
        if (found.st_dev, found.st_ino) == (wanted.st_dev, wanted.st_ino):
            return True
    return False


def storage_location(env: Mapping[str, str], project: Path) -> Location | None:
    """Where the storage that `env` selects keeps its data; None for one in memory."""
    kind = env.get("STORAGE_TYPE", "").strip().lower() or "filesystem"
    if kind == "memory":
        return None
    if kind == "s3":
        bucket = env.get("S3_BUCKET", "").strip()
        prefix = env.get("S3_PREFIX", "").strip().strip("/")
        path = f"{prefix}/" if prefix else ""
        shown = f"bucket {bucket}" + (f", prefix {prefix}/" if prefix else "")
        # The endpoint is learnt from botocore only when two locations name one bucket (see
        # `with_servers`): buckets of other names never share a key, wherever they are. A
        # bucket name is compared without case: some servers ignore it.
        return Location(
            f"s3 {bucket.lower()}",
            path,
            shown,
            env.get("S3_ENDPOINT_URL", "").strip() or None,
            env.get("S3_REGION", "").strip() or "us-east-1",
        )
    # As the storage reads it: not stripped (a folder may end in a space).
    folder = Path(env.get("UPLOAD_DIR") or "static/uploads")
    real = os.path.normcase(os.path.realpath(project / folder))
    # A trailing separator: /srv/up does not contain /srv/uploads.
    return Location("filesystem", real.rstrip(os.sep) + os.sep, f"folder {real}")


def with_servers(*places: Location | None) -> list[Location | None]:
    """The S3 locations with the endpoint botocore uses for each (one client built per
    location, from the same arguments as the storage's: no request is sent)."""
    if not any(place is not None and place.container.startswith("s3 ") for place in places):
        return list(places)
    import botocore.session
    from botocore.exceptions import BotoCoreError

    try:
        session = botocore.session.get_session()
    except BotoCoreError as error:
        raise PlanError(_botocore_refused(error)) from None
    found: list[Location | None] = []
    for place in places:
        if place is None or not place.container.startswith("s3 "):
            found.append(place)
            continue
        try:
            client = session.create_client(
                "s3",
                region_name=place.region,
                endpoint_url=place.written_endpoint,
                # Never used (nothing is sent): given so that no credential is looked up.
                aws_access_key_id="oppdemo",
                aws_secret_access_key="oppdemo",
            )
        except (BotoCoreError, ValueError) as error:
            raise PlanError(_botocore_refused(error)) from None
        used = str(client.meta.endpoint_url)
        server = normal_endpoint(used)
        shown = "AWS" if server == "aws" else _without_userinfo(used)
        found.append(dataclasses.replace(place, server=server, server_shown=shown))
    return found


def _botocore_refused(error: Any) -> str:
    return (
        f"botocore cannot make an S3 client from these settings ({error}): check S3_REGION, "
        "S3_ENDPOINT_URL, and AWS_PROFILE, AWS_CONFIG_FILE and AWS_ENDPOINT_URL in the "
        "environment. Nothing was changed."
    )


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def normal_endpoint(url: str | None) -> str:
    """One spelling per server: scheme, host (every spelling of this machine as one, every
    AWS endpoint as one: bucket names are global there), port, path; no user info."""
    if url is None:
        return "aws"
    parts = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    scheme = parts.scheme.lower()
    host = _normal_host((parts.hostname or "").lower().rstrip("."))
    if host == "amazonaws.com" or host.endswith(".amazonaws.com"):
        return "aws"
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = 0
    return f"{scheme}://{host}:{port}{_normal_path(parts.path)}"


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normal_path(path: str) -> str:
    """A URL path as a server reads it: escapes of plain characters decoded (`%2E` is `.`),
    `.` and `..` segments resolved, empty segments and a trailing `/` dropped."""

    def decoded(match: re.Match[str]) -> str:
        character = chr(int(match.group(1), 16))
        return character if character in _UNRESERVED else match.group(0).upper()

    segments: list[str] = []
    for segment in _ESCAPE.sub(decoded, path).split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "".join(f"/{segment}" for segment in segments)


def _normal_host(host: str) -> str:
    """`localhost`, 127.0.0.1 in any spelling (2130706433, 0x7f.1, ::ffff:127.0.0.1), ::1 and
    0.0.0.0 all reach this machine: one name for them."""
    if host in _LOOPBACK:
        return "loopback"
    address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            address = ipaddress.ip_address(socket.inet_ntoa(socket.inet_aton(host)))
        except OSError:
            return _resolved(host)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback or address.is_unspecified:
        return "loopback"
    return str(address)


def _resolved(host: str) -> str:
    """A host name as the addresses it resolves to (this machine's names as one), so that
    two names of one server are one; the name itself when it does not resolve."""
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return host
    addresses = set()
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if address.is_loopback or address.is_unspecified:
            return "loopback"
        addresses.add(str(address))
    return "|".join(sorted(addresses)) or host


def refuse_overlap(source: Location | None, target: Location | None) -> None:
    """Raise `OverlapError` when the two locations are the same or one holds the other."""
    if source is None or target is None:
        return
    if source.container == target.container and source.container.startswith("s3 "):
        source, target = with_servers(source, target)  # type: ignore[assignment]
        assert source is not None and target is not None
    if source.contains(target) and target.contains(source):
        raise OverlapError(
            f"The source and the target are the same storage ({_named(source)}): "
            "check --to and --from."
        )
    if source.contains(target):
        raise OverlapError(
            f"The target ({_named(target)}) is inside the source ({_named(source)}): a migrate "
            "into its own subtree would copy its copies again on every run; choose a target "
            "outside the source."
        )
    if target.contains(source):
        raise OverlapError(
            f"The source ({_named(source)}) is inside the target ({_named(target)}): a migrate "
            "out of its own subtree would see the source's files as extra target files (and "
            "--delete would remove them); choose a target outside the source."
        )


def _named(place: Location) -> str:
    """A location as the operator knows it: a bucket with the endpoint botocore uses."""
    return f"{place.shown} at {place.server_shown}" if place.server_shown else place.shown


def refuse_unusable_folders(
    source: Mapping[str, str], target: Mapping[str, str], project: Path
) -> None:
    """A source folder that does not exist (a typo in UPLOAD_DIR would make `--delete` empty
    the target), or a target that is a file, is refused before anything is read."""
    for env, role in ((source, "source"), (target, "target")):
        location = storage_location(env, project)
        if location is None or location.container != "filesystem":
            continue
        folder = Path(location.path.rstrip(os.sep) or os.sep)
        if role == "source" and not folder.is_dir():
            raise PlanError(
                f"The source folder {folder} does not exist: check UPLOAD_DIR in the source's "
                "settings (a missing source would look empty, and --delete would empty the "
                "target)."
            )
        if folder.exists() and not folder.is_dir():
            raise PlanError(
                f"The {role} {folder} is a file, not a folder: check UPLOAD_DIR in the "
                f"{role}'s settings."
            )


def refuse_backups_overlap(backups: Path, *places: Location | None) -> None:
    """The backups folder must not overlap an upload folder: copies of deleted files would
    still be served there, and a migrate would copy (and back up) its own backups."""
    real = os.path.normcase(os.path.realpath(backups)).rstrip(os.sep) + os.sep
    for place in places:
        if place is None or place.container != "filesystem":
            continue
        if real.startswith(place.path) or place.path.startswith(real):
            raise OverlapError(
                f"The backups folder ({backups}) overlaps the upload {place.shown}: copies of "
                "deleted files would be served and migrated with the uploads; name a folder "
                "outside it in [tool.oppdemo] backups. Nothing was changed."
            )
