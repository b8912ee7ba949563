"""The services' declarations and what the inventory derives from them for each server."""

from __future__ import annotations

import dataclasses

from netaddr import IPNetwork

from preau import inventory
from preau.model import DEVICE_ROLES, VLAN_ROLES, Departement, services
from preau.model.facts import dhcp_scopes


def test_every_declaration_names_a_known_role_zones_and_ports() -> None:
    # one name per service; node_exporter is one service that every monitored role offers
    names = [(s.name, s.host_role) for s in services.COLLEGE_SERVICES]
    assert len(names) == len(set(names))
    for service in services.COLLEGE_SERVICES:
        assert service.host_role in DEVICE_ROLES, service
        assert set(service.remote_roles) <= set(DEVICE_ROLES), service
        assert set(service.zones) <= set(VLAN_ROLES), service
        assert service.ports and all(1 <= p <= 65535 for p in service.ports), service


def test_each_server_opens_what_it_serves_to_the_declared_zones_only(dep: Departement) -> None:
    college = dep.colleges[0]
    hostvars = inventory.script_inventory(dep)["_meta"]["hostvars"]
    for device in college.devices:
        served = hostvars[device.name].get("preau_served", [])
        assert [s["name"] for s in served] == [
            s.name for s in services.served_by(device.role, college)
        ]
        for entry in served:
            (service,) = (
                s for s in services.served_by(device.role, college) if s.name == entry["name"]
            )
            wanted = {college.prefixes[z] for z in service.zones if z in college.prefixes}
            wanted |= set(service.remote_sources(dep))
            assert {IPNetwork(p) for p in entry["sources"]} == wanted
            assert "servers" not in {z for z in service.zones}
    (fs,) = college.devices_by_role("file-server")
    assert [s["name"] for s in hostvars[fs.name]["preau_served"]] == ["smb", "node-exporter"]


def test_node_exporter_is_open_to_the_monitoring_host_only(dep: Departement) -> None:
    assert dep.datacentre is not None
    (mon,) = dep.datacentre.devices_by_role(services.MONITORING_ROLE)
    assert mon.primary_address is not None
    monitor = IPNetwork(f"{mon.primary_address.ip}/32")
    hostvars = inventory.script_inventory(dep)["_meta"]["hostvars"]
    for college in dep.colleges:
        for role in ("file-server", "app-server"):
            for device in college.devices_by_role(role):
                (entry,) = [s for s in hostvars[device.name]["preau_served"]
                            if s["name"] == "node-exporter"]  # fmt: skip
                assert entry["ports"] == [services.NODE_EXPORTER_PORT]
                assert entry["sources"] == [str(monitor)]  # no zone of the collège
    # no monitoring host in the source of truth: nobody may read the exporters
    assert services.remote_hosts(_without_monitoring(dep), (services.MONITORING_ROLE,)) == []


def _without_monitoring(dep: Departement) -> Departement:
    assert dep.datacentre is not None
    dc = dataclasses.replace(
        dep.datacentre,
        devices=tuple(d for d in dep.datacentre.devices if d.role != services.MONITORING_ROLE),
    )
    return dataclasses.replace(dep, datacentre=dc)


def test_the_time_clients_are_the_zones_whose_lease_names_the_time_server(
    dep: Departement,
) -> None:
    college = dep.colleges[0]
    group = inventory.build(dep)["all"]["children"][inventory.group_name(college.slug)]
    named = {str(s.vlan.prefix) for s in dhcp_scopes(dep, college) if s.ntp_server is not None}
    assert set(group["vars"]["preau_time_clients"]) == named
    (app,) = services.servers(college, services.TIME)
    assert {s.ntp_server for s in dhcp_scopes(dep, college) if s.ntp_server} == {app}


def test_the_boot_chain_the_app_server_is_given_is_the_declared_one(dep: Departement) -> None:
    college = dep.colleges[0]
    group = inventory.build(dep)["all"]["children"][inventory.group_name(college.slug)]
    boot = group["vars"]["preau_boot"]
    assert boot["loaders"] == list(services.BOOT.loaders)
    (app,) = services.servers(college, services.HTTP_BOOT)
    url = f"http://{app}:{boot['http_port']}{boot['http_dir']}/{boot['script']}"
    assert services.BOOT.script_url(app) == url.replace(":80/", "/")
    for scope in dhcp_scopes(dep, college):
        assert (scope.boot_server is not None) == (scope.vlan.role in services.TFTP.zones)


def test_each_monitored_host_watches_the_units_of_what_it_serves(dep: Departement) -> None:
    college = dep.colleges[0]
    hostvars = inventory.script_inventory(dep)["_meta"]["hostvars"]
    (fs,) = college.devices_by_role("file-server")
    assert hostvars[fs.name]["preau_watched_units"] == [services.SMB.unit]
    (app,) = college.devices_by_role("app-server")
    assert (
        set(hostvars[app.name]["preau_watched_units"])
        == {s.unit for s in services.served_by("app-server", college) if s.unit}
        >= {"cups.service", "tftpd-hpa.service", "chrony.service"}
    )
    assert college.router is not None
    assert hostvars[college.router.name]["preau_watched_units"] == list(services.ROUTER_UNITS)
    # a PC runs nothing the desk watches
    pc = college.devices_by_role("pc")[0]
    assert "preau_watched_units" not in hostvars[pc.name]
