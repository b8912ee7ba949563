"""What a pupil and an operator notice: the portal over TLS, sessions across instances, stats,
the runtime API, and an instance that dies without the portal noticing.

HTTP requests go from the machine running molecule to the load balancer's lab address, so the
demo password (made by the scenario, kept under ~/.cache/preau/ent) never enters a command line.
"""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
import requests
import testinfra
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

testinfra_hosts = ["preau-ent-lb1"]
SECRETS = Path(os.environ.get("PREAU_ENT_SECRETS") or Path.home() / ".cache/preau/ent")


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


def test_tls_key_stays_on_the_load_balancer(host):
    cert = host.file("/etc/haproxy/certs/ent-portal.pem")
    assert cert.mode == 0o640 and cert.group == "haproxy"
    assert host.socket("tcp://0.0.0.0:443").is_listening


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
