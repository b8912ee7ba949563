"""Each collège's Active Directory domain, derived from the collège and the département.

One domain per collège (the collège keeps logging pupils in when its THD Seine uplink is down),
hosted by the collège's file server, which becomes its domain controller (DC).

- **DNS zone** `ad.<slug>.<département suffix>` (`ad.clg-0929001j.enc.test`). Not the site zone
  itself: the router's DNS is authoritative for `<slug>.<suffix>` (its servers and network gear
  by name) and an AD DC must be authoritative for its own zone, so the domain gets the
  sub-zone the router forwards to the DC. A sub-domain of a name the département owns is also
  what Microsoft recommends (never a made-up TLD like `.local`).
- **Realm**: the zone in upper case (Kerberos convention, Samba requires realm == zone).
- **NetBIOS domain** `CLG<UAI>` (11 characters of the 15 allowed): what the standalone role
  already calls its workgroup, so a migrated server keeps its domain name.
- **DC**: the collège's first file server; its NetBIOS name is its host name cut to 15, and its
  name in the zone is that NetBIOS name (what Samba registers there).

Not stored in NetBox yet: they are derived, so storing them would make a second copy. When a
collège needs a domain name that is not the derived one (a migrated domain, a name chosen
before preau), the override belongs in two Site custom fields (`ad_realm`, `ad_netbios_domain`,
validated by NetBox's regex, shown and filterable on the Site), read back into the model and
empty when the derivation holds. A config context would also carry them, but unvalidated, and
merged by weight: right for département-wide defaults (the DNS suffix), wrong for one site's
identity.

Pure: no I/O. `domain_problems` says why a collège cannot have a domain (a realm that is not a
valid DNS name, a missing file server), naming the object and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netaddr import IPAddress

from preau.errors import Problem, ValidationFailed
from preau.model.departement import College, Departement
from preau.model.facts import device_address

# The sub-zone of the collège's zone that the domain owns.
ZONE_LABEL = "ad"
NETBIOS_MAX = 15
# RFC 1123 host label: letters, digits, inner hyphens, 63 characters at most.
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NETBIOS = re.compile(r"^[A-Z0-9][A-Z0-9-]*$")
DNS_NAME_MAX = 253


@dataclass(frozen=True, slots=True)
class Domain:
    """A collège's AD domain: what the DC is provisioned with and what clients join."""

    realm: str
    dns_zone: str
    netbios_domain: str
    dc_host: str
    dc_netbios_name: str
    dc_address: IPAddress | None

    @property
    def dc_fqdn(self) -> str:
        return f"{self.dc_host}.{self.dns_zone}"

    @property
    def base_dn(self) -> str:
        """The LDAP base of the domain (DC=ad,DC=clg-0929001j,...)."""
        return ",".join(f"DC={label}" for label in self.dns_zone.split("."))

    def to_dict(self) -> dict[str, str]:
        return {
            "realm": self.realm,
            "dns_zone": self.dns_zone,
            "netbios_domain": self.netbios_domain,
            "dc_host": self.dc_host,
            "dc_fqdn": self.dc_fqdn,
            "dc_netbios_name": self.dc_netbios_name,
            "dc_address": str(self.dc_address) if self.dc_address is not None else "",
            "base_dn": self.base_dn,
        }


def dns_name_problem(name: str) -> str | None:
    """Why NAME is not a valid DNS name of at least two labels (RFC 1123), or None."""
    if not name:
        return "empty"
    if len(name) > DNS_NAME_MAX:
        return f"{len(name)} characters, a DNS name has at most {DNS_NAME_MAX}"
    labels = name.split(".")
    if len(labels) < 2:
        return f"{name!r} needs at least two labels (a realm is never a single name)"
    for label in labels:
        if not _LABEL.match(label):
            return (
                f"label {label!r} of {name!r} is not 1-63 lower-case letters, digits or inner '-'"
            )
    if labels[-1].isdigit():
        return f"{name!r} ends with a numeric label"
    return None


def netbios_name(host: str) -> str:
    """A host's NetBIOS name: its first label, upper case, letters/digits/'-', cut to 15."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "", host.split(".")[0]).upper()
    return cleaned[:NETBIOS_MAX].rstrip("-")


def _zone(dep: Departement, college: College) -> str:
    return f"{ZONE_LABEL}.{college.slug}.{dep.services.domain}".lower()


def domain_problems(dep: Departement, college: College) -> list[Problem]:
    """Why this collège cannot have its domain; empty when it can."""
    obj = f"college {college.slug}"
    out: list[Problem] = []
    zone = _zone(dep, college)
    suffix = dep.services.domain.lower()
    # a suffix is good when some name ending with it is: checked apart, so a bad suffix is one
    # problem on the département (the same for every collège), not one per collège
    suffix_why = dns_name_problem(f"{ZONE_LABEL}.{suffix}")
    if suffix_why:
        out.append(
            Problem(
                "departement.services",
                "domain",
                f"AD realms are ad.<slug>.{dep.services.domain}: {suffix_why}",
            )
        )
    else:
        why = dns_name_problem(zone)
        if why:
            out.append(Problem(obj, "slug", f"AD realm {zone.upper()}: {why}"))
    netbios = f"CLG{college.uai}".upper()
    if len(netbios) > NETBIOS_MAX or not _NETBIOS.match(netbios):
        out.append(Problem(obj, "uai", f"NetBIOS domain {netbios!r} is not 1-15 letters or digits"))
    servers = college.devices_by_role("file-server")
    if servers:  # a collège without a file server has no domain (and nothing to log in to)
        dc = servers[0]
        if not _LABEL.match(dc.name.lower()):
            out.append(
                Problem(
                    f"device {dc.name}",
                    "name",
                    "a DC's host name is one DNS label (letters, digits, inner '-')",
                )
            )
        elif netbios_name(dc.name) == netbios:
            out.append(
                Problem(
                    f"device {dc.name}",
                    "name",
                    f"the DC's NetBIOS name would equal the NetBIOS domain {netbios}",
                )
            )
    return out


def college_domain(dep: Departement, college: College) -> Domain | None:
    """The collège's domain (None without a file server to be its DC).

    Raises ValidationFailed naming the field when the facts cannot make a domain; the
    source-of-truth validation reports the same problems earlier.
    """
    problems = domain_problems(dep, college)
    if problems:
        raise ValidationFailed(problems)
    servers = college.devices_by_role("file-server")
    if not servers:
        return None
    zone = _zone(dep, college)
    dc = servers[0]
    return Domain(
        realm=zone.upper(),
        dns_zone=zone,
        netbios_domain=f"CLG{college.uai}".upper(),
        # Samba registers the DC in its zone under its NetBIOS name: a host name longer than 15
        # characters (clg-0929001j-fs1) would be a dNSHostName without an address record, and a
        # PC's ticket for cifs/<host> would name a host the zone does not hold
        dc_host=netbios_name(dc.name).lower(),
        dc_netbios_name=netbios_name(dc.name),
        dc_address=device_address(dc),
    )
