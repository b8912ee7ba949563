"""What a pupil and an operator notice: the portal over TLS, sessions across instances, stats,
the runtime API, and an instance that dies without the portal noticing.

HTTP requests go from the machine running molecule to the load balancer's lab address, so the
demo password (made by the scenario, kept under ~/.cache/preau/ent) never enters a command line.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import testinfra
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import NameOID

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

testinfra_hosts = ["preau-ent-lb1"]
SECRETS = Path(os.environ.get("PREAU_ENT_SECRETS") or Path.home() / ".cache/preau/ent")
CN = "portail.ent.preau.test"  # ent_portal_tls_cn in molecule.yml


def other(name: str):
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory}")


@pytest.fixture(scope="module")
def lb(host) -> str:
    return host.check_output("hostname -I").split()[0]


@pytest.fixture(scope="module")
def pupil(lb) -> requests.Session:
    session = requests.Session()
    # verify=False on each call: a REQUESTS_CA_BUNDLE in the environment overrides the session's
    session.trust_env = False
    session.verify = False
    password = (SECRETS / "demo-password").read_text().split()[0]
    r = session.post(
        f"https://{lb}/login",
        data={"login": "eleve00042", "password": password},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 303, r.text[:200]
    return session


def runtime(lb: str, command: str) -> str:
    with socket.create_connection((lb, 9999), timeout=5) as sock:
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def test_services_run_where_the_groups_say(host):
    for unit in ("haproxy", "postgresql", "redis-server"):
        assert host.service(unit).is_running and host.service(unit).is_enabled
    for name in ("preau-ent-app1", "preau-ent-app2"):
        app = other(name)
        for port in (8001, 8002):
            assert app.service(f"ent-portal@{port}").is_running
        assert not app.service("ent-portal@8003").is_running


def served_certificate(lb: str) -> x509.Certificate:
    """The certificate HAProxy presents on 443 (self-signed: read, not verified)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((lb, 443), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=CN) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der
    return x509.load_der_x509_certificate(der)


def names(cert: x509.Certificate) -> tuple[str, list[str]]:
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return str(cn), san.get_values_for_type(x509.DNSName)


def days(cert: x509.Certificate) -> float:
    return (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() / 86400


def public_key(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def test_tls_key_stays_on_the_load_balancer(host):
    for path in ("/etc/haproxy/certs/ent-portal.pem", "/etc/haproxy/certs/ent-portal.pem.key"):
        f = host.file(path)
        assert f.mode == 0o640 and f.user == "root" and f.group == "haproxy", path
    # the certificate file holds no key: HAProxy reads it from the .key file beside it
    assert "PRIVATE KEY" not in host.file("/etc/haproxy/certs/ent-portal.pem").content_string
    assert host.socket("tcp://0.0.0.0:443").is_listening


def test_portal_serves_the_inventorys_name(lb):
    cert = served_certificate(lb)
    assert names(cert) == (CN, [CN])
    assert round(days(cert)) == 825  # ent_portal_tls_days' default
    assert cert.issuer == cert.subject  # self-signed


def test_http_redirects_to_https(lb):
    r = requests.get(f"http://{lb}/", allow_redirects=False, timeout=10)
    assert r.status_code == 301 and r.headers["Location"].startswith("https://")


def test_wrong_password_is_refused(lb):
    r = requests.post(
        f"https://{lb}/login",
        data={"login": "eleve00042", "password": "nope"},
        verify=False,
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 401


def test_login_then_pages_through_haproxy_over_tls(pupil, lb):
    r = pupil.get(f"https://{lb}/", timeout=10)
    assert r.status_code == 200 and "Bonjour Élève 42" in r.text
    for page, marker in (("timetable", "Lundi"), ("homework", "<ul>"), ("messages", "<li>")):
        r = pupil.get(f"https://{lb}/{page}", timeout=10)
        assert r.status_code == 200 and marker in r.text, page


def test_session_survives_another_instance(pupil, lb):
    served = set()
    for _ in range(12):
        r = pupil.get(f"https://{lb}/timetable", allow_redirects=False, timeout=10)
        assert r.status_code == 200
        served.add(r.headers["X-Instance"])
    # four instances on two hosts, round robin: the same session met several of them
    assert len(served) >= 3 and {s.split(":")[0] for s in served} == {
        "preau-ent-app1",
        "preau-ent-app2",
    }


def test_stats_and_prometheus_endpoints_answer(lb):
    metrics = requests.get(f"http://{lb}:8404/metrics", timeout=10).text
    assert re.search(r'haproxy_backend_active_servers\{proxy="portal"\} 4', metrics)
    assert requests.get(f"http://{lb}:8404/stats", timeout=10).status_code == 200


def test_runtime_api_shows_every_slot(lb):
    rows = [r for r in runtime(lb, "show stat").splitlines() if r.startswith("portal,app")]
    assert len(rows) == 8  # 2 app hosts x ent_portal_max_instances_per_host 4
    assert sum(",UP," in r for r in rows) == 4 and sum(",MAINT," in r for r in rows) == 4


def test_killed_instance_leaves_the_portal_answering(pupil, lb):
    app1 = other("preau-ent-app1")
    app1.run("systemctl kill --signal=SIGKILL ent-portal@8001.service")
    codes = [pupil.get(f"https://{lb}/messages", timeout=10).status_code for _ in range(30)]
    assert codes == [200] * 30
    # systemd brings it back (Restart=on-failure) and the health check puts it back in
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        rows = runtime(lb, "show stat").splitlines()
        if any(r.startswith("portal,app1,") and ",UP," in r for r in rows):
            break
        time.sleep(0.5)
    else:
        pytest.fail("ent-portal@8001 on app1 did not come back UP")


def test_a_new_name_and_validity_are_served_after_a_configure_run(lb):
    """The phase tag reaches the included HAProxy tasks; the same run again changes nothing.

    Last in the file: the stack is left with the new name (destroyed next, or kept up for
    tests/integration/test_ent_stack.py, whose load does not check the name).
    """
    before = served_certificate(lb)
    scenario = Path(os.environ["MOLECULE_SCENARIO_DIRECTORY"])
    new = ["-e", json.dumps({"ent_portal_tls_cn": "ent2.preau.test", "ent_portal_tls_days": 30})]
    env = os.environ | {
        "ANSIBLE_ROLES_PATH": str(scenario.parents[2]),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",  # molecule forces colour by default; the recap is parsed
    }

    def configure() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                str(Path(sys.executable).with_name("ansible-playbook")),
                "-i", os.environ["MOLECULE_INVENTORY_FILE"],
                str(scenario / "converge.yml"),
                "--tags", "ent_portal_configure", *new,
            ],
            capture_output=True, text=True, check=False,
            env=env,
        )  # fmt: skip

    first = configure()
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    after = served_certificate(lb)
    assert names(after) == ("ent2.preau.test", ["ent2.preau.test"])
    assert round(days(after)) == 30
    assert public_key(after) == public_key(before)  # same key, made once
    second = configure()
    assert second.returncode == 0, second.stdout[-4000:]
    recap = re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", second.stdout, re.MULTILINE)
    assert len(recap) == 3 and all(changed == "0" for _, changed in recap), second.stdout[-4000:]
