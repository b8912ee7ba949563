"""The ENT portal in the twin's data centre, reached by a pupil at a collège through THD Seine.

`playbooks/ent.yml` runs on the twin's ent-lb1, ent-db1 and ent-app1 (the groups
load_balancer, database and portal_app of `inventory/lab.sh`), twice: the second run changes
nothing. Both routers first get their real configuration (`preau net apply`), so the pupil's
requests cross the collège's nftables zones, the THD core and the data-centre router as
designed. The secrets come from the environment of the run as the role demands (here: password
lookups into the lab's secret folder, 0600, never in the repository, never on a command line).
The module hands the lab back with HAProxy stopped, as the other lab tests found it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml

from fixtures.lab import Lab, dns_a, netns_pid
from fixtures.playbook import REPO, Run, run_playbook
from preau.deploys import net_apply
from preau.ent import target
from preau.lab import podman
from preau.model.facts import gateway

pytestmark = pytest.mark.lab

DC = "dc-nanterre"
PUPIL = "eleve00042"
# The lab's secrets, as the role's molecule scenario makes them (one definition of where they
# live), and two instances so the session can be seen moving between them.
MOLECULE = REPO / "roles" / "ent_portal" / "molecule" / "default" / "molecule.yml"
SECRET_VARS = (
    "_ent_secrets",
    "ent_portal_db_password",
    "ent_portal_redis_password",
    "ent_portal_demo_password",
)


def _secrets_vars() -> str:
    scenario = yaml.safe_load(MOLECULE.read_text())["provisioner"]["inventory"]["group_vars"]
    wanted = {k: scenario["all"][k] for k in SECRET_VARS}
    return yaml.safe_dump({**wanted, "ent_portal_instances_per_host": 2})


@pytest.fixture(scope="module")
def ent(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Run]]:
    for site in (lab.college, DC):
        net_apply.apply(lab.dep, net_apply.target(lab.dep, site, "lab"), timeout=60)
    extra = tmp_path_factory.mktemp("ent") / "secrets.yml"
    extra.write_text(_secrets_vars())
    extra.chmod(0o600)
    first = run_playbook("ent", "-e", f"@{extra}")
    second = run_playbook("ent", "-e", f"@{extra}")
    print(f"\nent.yml on the twin: first run {first.seconds:.0f} s, second {second.seconds:.0f} s")
    yield first, second
    # Hand the lab back as other tests expect it: port 80 of the load balancer is theirs (the
    # traffic proof serves a token there); the playbook starts HAProxy again when run.
    lab.exec("ent-lb1", "systemctl", "disable", "--now", "haproxy", check=False)


def _curl(lab: Lab, pc: str, *args: str, stdin: str | None = None) -> str:
    """curl inside a collège PC (its own network namespace, its own routes)."""
    cmd = ["exec", "-i", lab.host(pc).container, "curl", "-sS", "-k", "--max-time", "15", *args]
    return podman.run(*cmd, input=stdin.encode() if stdin is not None else None).stdout


def test_ent_yml_converges_on_the_data_centre_then_changes_nothing(ent: tuple[Run, Run]) -> None:
    first, second = ent
    hosts = {"ent-lb1", "ent-db1", "ent-app1"}
    assert set(first.recap) == hosts == set(second.recap), first.output[-3000:]
    for counts in first.recap.values():
        assert counts["failed"] == 0 and counts["unreachable"] == 0
    changed = {h: c["changed"] for h, c in second.recap.items() if c["changed"]}
    assert not changed, second.output[-4000:]


def test_a_pupil_at_the_college_logs_in_through_thd_seine(lab: Lab, ent: tuple[Run, Run]) -> None:
    pc = lab.one("pc").name
    lb = lab.address("ent-lb1")
    jar = "/root/.ent-cookies"
    # the password goes on stdin (`password@-`), never on a command line
    code = _curl(
        lab, pc, "-o", "/dev/null", "-w", "%{http_code}", "-c", jar,
        "--data-urlencode", f"login={PUPIL}", "--data-urlencode", "password@-",
        f"https://{lb}/login",
        stdin=target.secret("demo-password"),
    )  # fmt: skip
    assert code == "303", code
    assert "Bonjour Élève 42" in _curl(lab, pc, "-b", jar, f"https://{lb}/")
    assert "Lundi" in _curl(lab, pc, "-b", jar, f"https://{lb}/timetable")
    # two instances on ent-app1 behind HAProxy: the session (in Redis) follows the pupil
    served = {
        line.split(":", 1)[1].strip()
        for _ in range(6)
        for line in _curl(
            lab, pc, "-b", jar, "-D", "-", "-o", "/dev/null", f"https://{lb}/timetable"
        ).splitlines()  # fmt: skip
        if line.lower().startswith("x-instance:")
    }
    assert len(served) == 2, served


def test_a_college_pc_opens_the_portal_by_its_name_and_trusts_what_it_is_shown(
    lab: Lab, ent: tuple[Run, Run]
) -> None:
    """The name a pupil's browser opens (the model's, Services.ent_name) resolves through the
    collège's DNS to the load balancer, and the certificate HAProxy shows is made for it: with
    that certificate as its only trust anchor, curl verifies the name (no -k)."""
    pc = lab.one("pc").name
    name = lab.dep.services.ent_name
    cert = lab.exec("ent-lb1", "cat", "/etc/haproxy/certs/ent-portal.pem").stdout
    assert "BEGIN CERTIFICATE" in cert and "PRIVATE KEY" not in cert
    container = lab.host(pc).container
    podman.run("exec", "-i", container, "sh", "-c", "cat > /tmp/ent-portal.pem",
               input=cert.encode())  # fmt: skip
    # the PC's resolver is the one its lease names: the collège router, on its VLAN's gateway
    college = lab.dep.site(lab.college)
    assert college is not None
    address = dns_a(netns_pid(container), gateway(college, "teaching"), name)
    assert address == lab.address("ent-lb1"), address
    out = podman.run(
        "exec", container, "curl", "-sS", "--max-time", "15", "--cacert", "/tmp/ent-portal.pem",
        "--resolve", f"{name}:443:{address}", "-o", "/dev/null", "-w", "%{http_code} %{remote_ip}",
        f"https://{name}/login", check=False,
    )  # fmt: skip
    assert out.returncode == 0, out
    code, remote = out.stdout.split()
    assert code.startswith(("2", "3")) and remote == str(lab.address("ent-lb1")), out.stdout


def test_a_wrong_password_is_refused_from_the_college(lab: Lab, ent: tuple[Run, Run]) -> None:
    pc = lab.one("pc").name
    lb = lab.address("ent-lb1")
    code = _curl(
        lab, pc, "-o", "/dev/null", "-w", "%{http_code}",
        "--data-urlencode", f"login={PUPIL}", "--data-urlencode", "password@-",
        f"https://{lb}/login", stdin="not-the-password",
    )  # fmt: skip
    assert code == "401", code


def test_the_portal_is_not_reachable_on_its_app_ports_from_the_college(
    lab: Lab, ent: tuple[Run, Run]
) -> None:
    """Pupils reach the portal through HAProxy only: the instances' own ports stay closed to
    the collège (the data-centre router lets HTTPS to the load balancer through, nothing else)."""
    pc = lab.one("pc").name
    app = lab.address("ent-app1")
    # the instance answers on that port inside the data centre (HAProxy's health check path)
    inside = lab.exec(
        "ent-lb1", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5",
        f"http://{app}:8001/healthz",
    )  # fmt: skip
    assert inside.stdout == "200", inside
    out = podman.run(
        "exec", lab.host(pc).container, "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
        "--max-time", "5", f"http://{app}:8001/healthz", check=False,
    )  # fmt: skip
    assert out.returncode != 0 and out.stdout in ("", "000"), out
