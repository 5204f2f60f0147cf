"""Servers the benchmarks start on 127.0.0.1: moto's S3 in a process of its own."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Return once something listens on `port`; fail if `process` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited") from None
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """moto's S3 server in its own process, as S3 is a service of its own; and its address."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    return process, f"http://127.0.0.1:{port}"


# The site of docs/demo/deploying.md, as tests/test_proxy.py runs it.
NGINX_SITE = """\
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    client_max_body_size 101m;
    proxy_pass http://127.0.0.1:{upstream};"""


def start_nginx(folder: Path, upstream: int) -> tuple[subprocess.Popen[bytes], str] | None:
    """Debian's nginx with TLS (a certificate made here) in front of 127.0.0.1:`upstream`,
    in one process as this user; None where there is no nginx."""
    import shutil

    executable = next(
        (c for c in ("/usr/sbin/nginx", shutil.which("nginx")) if c and Path(c).exists()), None
    )
    if executable is None:
        return None
    cert, key = _certificate(folder)
    port = free_port()
    temp = "".join(
        f"  {kind}_temp_path {folder / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    site = NGINX_SITE.format(upstream=upstream)
    (folder / "nginx.conf").write_text(
        f"daemon off;\nmaster_process off;\npid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'} warn;\nevents {{ worker_connections 512; }}\n"
        f"http {{\n  access_log off;\n{temp}"
        f"  server {{\n    listen 127.0.0.1:{port} ssl;\n"
        f"    ssl_certificate {cert};\n    ssl_certificate_key {key};\n"
        f"    location / {{\n{site}\n    }}\n  }}\n}}\n"
    )
    command = [executable, "-e", str(folder / "error.log"), "-p", str(folder),
               "-c", str(folder / "nginx.conf")]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process)
    return process, f"https://127.0.0.1:{port}"


def _certificate(folder: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert, private = folder / "site.crt", folder / "site.key"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private
