"""The CLI on the embedded file source of truth: exit codes, tables, JSON."""

import json
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_validate_ok(preau, inventory_copy):
    r = preau("sot", "validate", "--source", "files", "--path", str(inventory_copy))
    assert r.exit_code == 0, r.output
    assert "valid" in r.output


def test_validate_reports_object_and_field(preau, inventory_copy):
    site = next((inventory_copy / "sites").glob("clg-*.yml"))
    site.write_text(site.read_text().replace("uai: 0929", "uai: 1929", 1))
    r = preau("sot", "validate", "--source", "files", "--path", str(inventory_copy))
    assert r.exit_code == 2
    assert f"college {site.stem}: uai:" in r.output


def test_college_list_json(preau, inventory_copy):
    r = preau("college", "list", "--source", "files", "--path", str(inventory_copy), "--json")
    assert r.exit_code == 0
    rows = json.loads(r.output)
    assert [c["uai"] for c in rows] == ["0929001J", "0929002K", "0929003L"]
    assert all(c["circuit"].startswith("THD-") for c in rows)


def test_college_show_by_uai(preau, inventory_copy):
    r = preau("college", "show", "0929002K", "--source", "files", "--path", str(inventory_copy))
    assert r.exit_code == 0 and "PEDAGOGIE" in r.output
    r = preau("college", "show", "0000000A", "--source", "files", "--path", str(inventory_copy))
    assert r.exit_code == 2 and "no collège" in r.output


def test_college_show_gives_the_ad_domain(preau, inventory_copy):
    args = ("college", "show", "clg-0929001j", "--source", "files", "--path", str(inventory_copy))
    r = preau(*args)
    assert r.exit_code == 0, r.output
    assert "AD domain (not in use: accounts are standalone) AD.CLG-0929001J.ENC.TEST" in r.output
    assert "(NetBIOS CLG0929001J)" in r.output
    shown = json.loads(preau(*args, "--json").output)
    assert shown["directory"] == "standalone"
    domain = shown["domain"]
    assert domain["dc_fqdn"] == "clg-0929001j-fs.ad.clg-0929001j.enc.test"  # its NetBIOS name
    assert domain["dc_address"] == "198.18.2.130"


def test_client_config_only_for_a_domain_then_written_once_with_sssds_mode(
    preau, inventory_copy, tmp_path
):
    """A standalone collège has no domain to join (exit 2, nothing written); once its directory
    is ad, the PC files name the realm `college show` gives, sssd's root-only, and a second
    write changes nothing. (The twin proves a PC joins with them.)"""
    args = (
        "college",
        "client-config",
        "0929001J",
        "--source",
        "files",
        "--path",
        str(inventory_copy),
    )
    out = tmp_path / "root"
    r = preau(*args, "--out", str(out))
    assert r.exit_code == 2 and "college clg-0929001j: directory" in r.output, r.output
    assert not out.exists()
    site = inventory_copy / "sites" / "clg-0929001j.yml"
    site.write_text(site.read_text() + "directory: ad\n")
    show = ("college", "show", "0929001J", "--source", "files", "--path", str(inventory_copy))
    realm = json.loads(preau(*show, "--json").output)["domain"]["realm"]
    r = preau(*args, "--out", str(out), "--dry-run")
    assert r.exit_code == 0 and "would write" in r.output and not out.exists(), r.output
    r = preau(*args, "--out", str(out))
    assert r.exit_code == 0, r.output
    assert f"default_realm = {realm}" in (out / "etc/krb5.conf").read_text()
    sssd = out / "etc/sssd/sssd.conf"
    assert f"krb5_realm = {realm}" in sssd.read_text()
    assert sssd.stat().st_mode & 0o777 == 0o600
    assert "nothing to change" in preau(*args, "--out", str(out)).output
    files = json.loads(preau(*args, "--json").output)
    assert sorted(files) == ["etc/krb5.conf", "etc/sssd/sssd.conf"]


def test_a_realm_that_is_not_a_dns_name_is_bad_input(preau, inventory_copy):
    dep = inventory_copy / "departement.yml"
    dep.write_text(dep.read_text().replace("domain: enc.test", "domain: enc_test", 1))
    r = preau("sot", "validate", "--source", "files", "--path", str(inventory_copy))
    assert r.exit_code == 2
    # the suffix itself is no DNS domain: said once, on the département (not once per realm)
    assert "departement.services: domain: 'enc_test' is not a lower-case DNS domain" in r.output
    assert r.output.count("departement.services: domain") == 1, r.output


def test_college_add_then_rerun_changes_nothing(preau, inventory_copy):
    args = ("college", "add", "--uai", "0929100S", "--name", "Collège Neuf", "--pupils", "480",
            "--pcs", "4", "--source", "files", "--path", str(inventory_copy))  # fmt: skip
    dry = preau(*args, "--dry-run")
    assert dry.exit_code == 0 and "dry run" in dry.output
    assert not (inventory_copy / "sites" / "clg-0929100s.yml").exists()
    first = preau(*args)
    assert first.exit_code == 0, first.output
    created = (inventory_copy / "sites" / "clg-0929100s.yml").read_text()
    second = preau(*args)
    assert "nothing to change" in second.output
    assert (inventory_copy / "sites" / "clg-0929100s.yml").read_text() == created


def test_college_add_bad_uai_is_exit_2(preau, inventory_copy):
    r = preau("college", "add", "--uai", "0929100A", "--name", "X", "--pupils", "1",
              "--source", "files", "--path", str(inventory_copy))  # fmt: skip
    assert r.exit_code == 2 and "check letter" in r.output
    assert len(list((inventory_copy / "sites").glob("*.yml"))) == 4


def test_generate(preau, tmp_path):
    r = preau("sot", "generate", "--colleges", "5", "--out", str(tmp_path / "gen"))
    assert r.exit_code == 0
    assert len(list((tmp_path / "gen" / "sites").glob("*.yml"))) == 6
    v = preau("sot", "validate", "--source", "files", "--path", str(tmp_path / "gen"))
    assert v.exit_code == 0


def test_inventory_feeds_ansible_inventory(preau, inventory_copy, tmp_path):
    """The JSON is accepted by the real ansible-inventory, groups and host vars intact."""
    r = preau("inventory", "--source", "files", "--path", str(inventory_copy))
    assert r.exit_code == 0
    inv = tmp_path / "preau.json"
    inv.write_text(r.output)
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(inv), "--list"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    data = json.loads(out.stdout)
    assert "clg-0929001j-rtr1" in data["router"]["hosts"]
    assert "clg-0929001j-fs1" in data["file_server"]["hosts"]
    hv = data["_meta"]["hostvars"]["clg-0929001j-fs1"]
    assert hv["preau_role"] == "file-server" and hv["preau_uai"] == "0929001J"
    assert hv["ansible_host"].startswith("198.18.")


def test_inventory_script_for_ansible(inventory_copy):
    """inventory/preau.sh works as an executable inventory."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PREAU_SOURCE": "files",
           "PREAU_INVENTORY": str(inventory_copy), "HOME": str(inventory_copy)}  # fmt: skip
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i",
         str(REPO / "inventory" / "preau.sh"), "--graph", "colleges"],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert "@clg_0929003l" in out.stdout and "clg-0929003l-app1" in out.stdout


def test_each_file_server_takes_its_roster_beside_the_files_the_inventory_read(inventory_copy):
    """The roster a rollout imports is the one in the inventory it was given ($PREAU_INVENTORY,
    what `--path` sets), resolved by Ansible through inventory/group_vars as a rollout does;
    a collège with no roster there gets none, not the repository's."""
    (inventory_copy / "rosters" / "0929002K.csv").write_text("classe;nom;prénom\n")
    (inventory_copy / "rosters" / "0929001J.csv").unlink()
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PREAU_SOURCE": "files",
           "PREAU_INVENTORY": str(inventory_copy), "HOME": str(inventory_copy),
           "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "json"}  # fmt: skip
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible"), "-i", str(REPO / "inventory" / "preau.sh"),
         "clg-0929001j-fs1,clg-0929002k-fs1", "-m", "ansible.builtin.debug",
         "-a", "var=file_server_roster_file"],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    (play,) = json.loads(out.stdout)["plays"]
    found = {host: r["file_server_roster_file"] for host, r in play["tasks"][0]["hosts"].items()}
    assert found == {
        "clg-0929001j-fs1": "",
        "clg-0929002k-fs1": str(inventory_copy / "rosters" / "0929002K.csv"),
    }


def test_monitoring_targets_json_and_write(preau, inventory_copy, tmp_path):
    args = ("monitoring", "targets", "--source", "files", "--path", str(inventory_copy))
    r = preau(*args, "--json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    routers = [t for t in rows if t["labels"]["role"] == "router"]
    assert sorted(t["labels"]["uai"] for t in routers) == ["0929001J", "0929002K", "0929003L"]
    out = tmp_path / "sd"
    r = preau(*args, "--write", str(out), "--dry-run")
    assert r.exit_code == 0 and "would write node.json" in r.output and not out.exists()
    assert preau(*args, "--write", str(out)).exit_code == 0
    node = json.loads((out / "node.json").read_text())
    assert [g["targets"] for g in node] == [t["targets"] for t in rows if t["job"] == "node"]
    r = preau(*args, "--write", str(out))
    assert r.exit_code == 0 and "nothing to change" in r.output
    site = next((inventory_copy / "sites").glob("clg-*.yml"))
    site.write_text(site.read_text().replace("uai: 0929", "uai: 1929", 1))
    r = preau(*args, "--json")
    assert r.exit_code == 2 and f"college {site.stem}: uai:" in r.output


def _closed_port() -> int:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_status_says_when_prometheus_does_not_answer(preau, inventory_copy):
    url = f"http://127.0.0.1:{_closed_port()}"
    for args in (("monitoring", "status"), ("college", "status", "0929001J")):
        r = preau(
            *args, "--source", "files", "--path", str(inventory_copy), "--prometheus-url", url
        )
        assert r.exit_code == 1, r.output
        assert f"Prometheus at {url} does not answer" in r.output


def test_status_without_a_monitoring_host_asks_for_prometheus(preau, inventory_copy):
    dc = inventory_copy / "sites" / "dc-nanterre.yml"
    text = dc.read_text()
    dc.write_text(text[: text.index("- name: dc-mon1")])
    r = preau("monitoring", "status", "--source", "files", "--path", str(inventory_copy))
    assert r.exit_code == 2 and "no monitoring host" in r.output
    r = preau("college", "status", "0000000A", "--source", "files", "--path", str(inventory_copy))
    assert r.exit_code == 2 and "no collège" in r.output


def test_a_plot_that_is_not_a_png_is_refused_before_prometheus_is_asked(preau, inventory_copy):
    url = f"http://127.0.0.1:{_closed_port()}"  # asked, it would fail with exit 1
    svg = inventory_copy / "u.svg"
    r = preau("college", "status", "0929001J", "--plot", str(svg), "--source", "files",
              "--path", str(inventory_copy), "--prometheus-url", url)  # fmt: skip
    assert r.exit_code == 2 and "--plot" in r.output and ".png" in r.output, r.output
    assert not svg.exists()
