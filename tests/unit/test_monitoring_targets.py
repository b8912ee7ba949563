"""Prometheus' targets and the uplinks' rules, derived from the model (no host hand-listed)."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
import yaml

from preau import inventory
from preau.model import Departement, services
from preau.monitoring import targets as tg
from preau.render import render_device
from preau.sot.generate import add_college, college_spec, generate


def _expected(dep: Departement) -> set[tuple[str, str, str, str]]:
    """(address, uai, role, host) of every router and server of every collège, from the SoT."""
    out = set()
    for college in dep.colleges:
        for device in college.devices:
            if device.role in services.MONITORED_ROLES and device.primary_address is not None:
                addr = f"{device.primary_address.ip}:{services.NODE_EXPORTER_PORT}"
                out.add((addr, college.uai, device.role, device.name))
    return out


def test_every_router_and_server_of_every_college_is_a_labelled_target() -> None:
    dep = generate(3, pcs=4, printers=1, displays=1, classrooms=2)
    ts = tg.node_targets(dep)
    got = {(t.address, t.labels["uai"], t.labels["role"], t.labels["host"]) for t in ts}
    assert got == _expected(dep)
    assert len(ts) == 3 * len(services.MONITORED_ROLES)  # a router, a file and an app server each
    for t in ts:
        college = dep.college(t.labels["uai"])
        assert college is not None and t.labels["site"] == college.slug
        device = college.device(t.labels["host"])
        assert device is not None and t.labels["room"] == (device.room or "")
        # `device` is node_exporter's own label (network interfaces, filesystems): never ours
        assert "device" not in t.labels and t.job == tg.NODE_JOB
    # PCs, printers and switches are not node_exporter targets
    assert not {t.labels["role"] for t in ts} - set(services.MONITORED_ROLES)


def test_a_router_target_is_its_uplink_address() -> None:
    dep = generate(1)
    college = dep.colleges[0]
    assert college.circuit is not None
    (rtr,) = [t for t in tg.node_targets(dep) if t.labels["role"] == "router"]
    assert rtr.address == f"{college.circuit.site_address}:{services.NODE_EXPORTER_PORT}"


def test_a_device_removed_from_the_sot_disappears_and_an_onboarded_college_appears(
    tmp_path,
) -> None:
    dep = generate(2)
    assert tg.write(dep, tmp_path) == [tg.NODE_FILE, tg.ENT_FILE, tg.UPLINK_RULES_FILE]
    assert tg.write(dep, tmp_path) == []  # a rewrite changes nothing
    college = dep.colleges[1]
    (fs,) = college.devices_by_role("file-server")
    smaller = replace(college, devices=tuple(d for d in college.devices if d is not fs))
    dep2 = replace(dep, colleges=(dep.colleges[0], smaller))
    assert tg.write(dep2, tmp_path) == [tg.NODE_FILE]
    hosts = {g["labels"]["host"] for g in json.loads((tmp_path / tg.NODE_FILE).read_text())}
    assert fs.name not in hosts and college.router is not None and college.router.name in hosts
    # onboarding a collège enrols it: its three hosts and its commit rate
    dep3 = add_college(dep2, college_spec(3, random.Random(1)))
    new = dep3.colleges[-1]
    assert set(tg.write(dep3, tmp_path)) == {tg.NODE_FILE, tg.UPLINK_RULES_FILE}
    groups = json.loads((tmp_path / tg.NODE_FILE).read_text())
    assert sorted(g["labels"]["role"] for g in groups if g["labels"]["uai"] == new.uai) == sorted(
        services.MONITORED_ROLES
    )


def test_each_college_uplink_commit_rate_is_a_recorded_series() -> None:
    dep = generate(3)
    (group,) = tg.uplink_rules(dep)["groups"]
    by_site = {r["labels"]["site"]: r for r in group["rules"]}
    assert set(by_site) == {c.slug for c in dep.colleges}
    for college in dep.colleges:
        assert college.circuit is not None and college.router is not None
        rule = by_site[college.slug]
        assert rule["record"] == tg.COMMIT_RATE_METRIC
        assert rule["expr"] == f"vector({college.circuit.commit_rate_mbps * 10**6})"
        # the interface holding the circuit's site address: the router's uplink
        (itf,) = [i for i in college.router.interfaces if i.name == rule["labels"]["device"]]
        assert itf.address is not None and itf.address.ip == college.circuit.site_address
        assert rule["labels"]["uai"] == college.uai


def test_the_ent_load_balancer_is_scraped_at_haproxys_exporter() -> None:
    dep = generate(1)
    assert dep.datacentre is not None
    (lb,) = dep.datacentre.devices_by_role("load-balancer")
    (t,) = tg.ent_targets(dep)
    assert lb.primary_address is not None
    assert t.address == f"{lb.primary_address.ip}:{services.ENT_METRICS.ports[0]}"


def test_the_monitoring_host_is_given_the_same_targets_by_the_inventory() -> None:
    dep = generate(2)
    hostvars = inventory.script_inventory(dep)["_meta"]["hostvars"]
    assert dep.datacentre is not None
    (mon,) = dep.datacentre.devices_by_role(services.MONITORING_ROLE)
    given = hostvars[mon.name]["preau_monitoring"]
    jobs = {j["job"]: j for j in given["scrape_jobs"]}
    assert jobs[tg.NODE_JOB]["targets"] == [t.file_sd() for t in tg.node_targets(dep)]
    assert jobs[tg.ENT_JOB]["targets"] == [t.file_sd() for t in tg.ent_targets(dep)]
    assert {j["file"] for j in jobs.values()} | {tg.UPLINK_RULES_FILE} == set(tg.files(dep))
    assert given["uplink_rules"] == tg.uplink_rules(dep)
    assert given["uplink_rules_file"] == tg.UPLINK_RULES_FILE
    # the ENT portal, by the name the routers' DNS publishes for its load balancer
    assert given["http_probes"] == tg.http_probes(dep) != []
    # and nobody else carries them
    assert [h for h, v in hostvars.items() if "preau_monitoring" in v] == [mon.name]


def test_the_ent_roles_metrics_port_is_the_declared_one() -> None:
    """roles/ent_portal binds HAProxy's exporter where the monitoring host looks for it."""
    defaults = Path(__file__).resolve().parents[2] / "roles/ent_portal/defaults/main.yml"
    bind = yaml.safe_load(defaults.read_text())["ent_portal_stats_bind"]
    assert int(bind.rpartition(":")[2]) == services.ENT_METRICS.ports[0]


def test_the_ent_probe_is_the_name_the_data_centre_router_publishes() -> None:
    dep = generate(1)
    assert dep.datacentre is not None and dep.datacentre.router is not None
    (url,) = tg.http_probes(dep)
    (lb,) = dep.datacentre.devices_by_role("load-balancer")
    assert lb.primary_address is not None
    conf = render_device(dep, dep.datacentre, dep.datacentre.router)["etc/dnsmasq.d/preau.conf"]
    assert f"host-record={urlsplit(url).hostname},{lb.primary_address.ip}" in conf.splitlines()


def test_the_ent_certificate_is_made_for_the_name_the_desk_probes() -> None:
    """roles/ent_portal's certificate name, from the inventory preau gives it, is the probe's
    host (and so the router's DNS record above): a browser at a collège gets no name mismatch."""
    dep = generate(1)
    (url,) = tg.http_probes(dep)
    given = inventory.build(dep)["all"]["vars"]
    defaults = Path(__file__).resolve().parents[2] / "roles/ent_portal/defaults/main.yml"
    cn = yaml.safe_load(defaults.read_text())["ent_portal_tls_cn"]
    assert jinja2.Template(cn).render(**given) == urlsplit(url).hostname
    # without preau's inventory (molecule, a lab of its own) the role still has a name
    assert jinja2.Template(cn).render() == "ent.example.test"
