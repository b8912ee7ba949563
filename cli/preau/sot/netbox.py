"""NetBox as preau's source of truth: the same model as the embedded files, kept in NetBox.

Mapping (NetBox 4.7): the département is a Region (its defaults in a config context
`preau-<slug>`, its supernets as container prefixes); each collège or data centre is a Site
(custom fields uai, pupils, commune, asn, preau_kind) with Locations for rooms, a VLAN group
scoped to it with the plan's VLANs, prefixes scoped to it (container, one per VLAN, the uplink
/31), a THD Seine Circuit (A side on the site, Z side on the core provider network), and its
Devices with interfaces, MAC addresses and IP addresses. Everything carries the `preau` tag.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from netaddr import IPNetwork

from preau.errors import BadInput, Problem, ValidationFailed
from preau.model import College, Departement
from preau.sot import ChangeReport
from preau.sot.layout import (
    CollegeSpec,
    already_onboarded,
    college_layout,
    next_college_resources,
    rerun,
)
from preau.sot.netbox_client import Client
from preau.sot.netbox_read import (
    Snapshot,
    fetch,
    to_model,
)
from preau.sot.netbox_schema import COLLEGE_CONTAINER, SUPERNET_ROLES, UPLINK, setup
from preau.sot.netbox_write import Progress
from preau.sot.netbox_write import push as write
from preau.sot.validate import check

ALLOCATION_NOTE = "preau: allocated for "


class NetBoxSource:
    """A NetBox instance (URL and token) holding one département."""

    name = "netbox"

    def __init__(self, settings: Any):
        self.settings = settings
        self.client = Client(settings.url, settings.token)

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (REST and GraphQL)."""
        return self.client.calls

    def setup(self, *, dry_run: bool = False) -> ChangeReport:
        """Create the custom fields, roles, types, tag and provider preau needs (idempotent)."""
        return setup(self.client, dry_run=dry_run)

    def snapshot(self, slugs: list[str] | None = None) -> Snapshot:
        return fetch(self.client, slugs)

    def read(self) -> Departement:
        return to_model(fetch(self.client), self.client.url)

    def push(
        self, dep: Departement, *, dry_run: bool = False, progress: Progress | None = None
    ) -> ChangeReport:
        check(dep)
        netbox_check(dep)
        snap = fetch(self.client)
        return write(self.client, snap, dep, dry_run, progress)

    # --- onboarding ------------------------------------------------------------------------

    def add_college(
        self, spec: CollegeSpec, *, dry_run: bool = False, update: bool = False
    ) -> tuple[College, ChangeReport]:
        snap = self.snapshot()
        dep = to_model(snap, self.client.url)
        existing = already_onboarded(dep, spec)
        if existing is not None:
            # A rerun: nothing to do with the same details, an error with others (or --update).
            college = rerun(existing, spec, update=update)
            if college is existing:
                return existing, ChangeReport(dry_run=dry_run)
            others = tuple(college if c is existing else c for c in dep.colleges)
            check(replace(dep, colleges=others))
            netbox_check(replace(dep, colleges=others))
            one = replace(dep, datacentre=None, colleges=(college,))
            return college, write(self.client, self._for_sites(snap, [college.slug]), one, dry_run)
        # Validate a provisional layout before allocating anything, so bad input writes nothing.
        container, uplink, asn = next_college_resources(dep)
        pending = self._pending(snap, spec.slug)
        container = pending.get(COLLEGE_CONTAINER, container)
        uplink = pending.get(UPLINK, uplink)
        college = college_layout(dep, spec, container, uplink, asn)
        check(replace(dep, colleges=(*dep.colleges, college)))
        netbox_check(replace(dep, colleges=(*dep.colleges, college)))
        report = ChangeReport(dry_run=dry_run)
        if dry_run:
            report.details.append(
                f"dry run: {container} and {uplink} computed locally from what NetBox holds; "
                "a real run asks NetBox's available-prefixes"
            )
        else:
            container = pending.get(COLLEGE_CONTAINER) or self._allocate(
                snap, "colleges", dep.college_prefix_length, spec.slug, COLLEGE_CONTAINER, report
            )
            uplink = pending.get(UPLINK) or self._allocate(
                snap, "uplinks", 31, spec.slug, UPLINK, report
            )
            college = college_layout(dep, spec, container, uplink, asn)
            check(replace(dep, colleges=(*dep.colleges, college)))
        one = replace(dep, datacentre=None, colleges=(college,))
        pushed = write(self.client, self._for_sites(snap, [college.slug]), one, dry_run)
        _merge(report, pushed)
        return college, report

    def _for_sites(self, snap: Snapshot, slugs: list[str]) -> Snapshot:
        """The snapshot, re-read for these sites (the catalogue is still current)."""
        return fetch(self.client, slugs)

    @staticmethod
    def _pending(snap: Snapshot, slug: str) -> dict[str, IPNetwork]:
        """Blocks allocated for this collège by an onboarding that stopped before its push."""
        out: dict[str, IPNetwork] = {}
        for p in snap.top_prefixes:
            if p.get("description") == f"{ALLOCATION_NOTE}{slug}" and not p.get("scope"):
                out[str((p.get("role") or {}).get("slug"))] = IPNetwork(p["prefix"])
        return out

    def _allocate(
        self, snap: Snapshot, supernet: str, length: int, slug: str, role: str, report: ChangeReport
    ) -> IPNetwork:
        """Ask NetBox for the next free block of the supernet; NetBox creates it atomically."""
        parent = next(
            (
                p
                for p in snap.top_prefixes
                if (p.get("role") or {}).get("slug") == SUPERNET_ROLES[supernet]
            ),
            None,
        )
        if parent is None:
            raise BadInput(f"NetBox has no {supernet} supernet: push the département first")
        body = {
            "prefix_length": length,
            "status": "container" if role == COLLEGE_CONTAINER else "active",
            "role": snap.catalogue["role"][role],
            "tags": [snap.tag_id],
            "description": f"{ALLOCATION_NOTE}{slug}",
        }
        created = self.client.post(
            f"ipam/prefixes/{parent['id']}/available-prefixes/",
            body,
            f"allocating a /{length} in {parent['prefix']}",
        )
        if isinstance(created, list):
            created = created[0]
        report.add("create", "prefix", f"{created['prefix']} (allocated in {parent['prefix']})")
        return IPNetwork(created["prefix"])


def netbox_check(dep: Departement) -> None:
    """What NetBox refuses and the model allows: caught before any write, with the object named."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for site in dep.sites:
        if site.name in seen:
            problems.append(
                Problem(
                    f"site {site.slug}",
                    "name",
                    f"{site.name!r} is also the name of {seen[site.name]}: NetBox needs unique "
                    "site names (add the commune or a number)",
                )
            )
        seen.setdefault(site.name, site.slug)
    names: dict[str, str] = {}
    for e in dep.vlan_plan:
        if e.name in names:
            problems.append(
                Problem(
                    f"vlan_plan {e.role}", "name", f"{e.name!r} is also used by {names[e.name]}"
                )
            )
        names.setdefault(e.name, e.role)
    if problems:
        raise ValidationFailed(problems)


def _merge(into: ChangeReport, other: ChangeReport) -> None:
    for verb, bucket in (
        ("create", other.created),
        ("update", other.updated),
        ("delete", other.deleted),
    ):
        for kind, n in bucket.items():
            into.add(verb, kind, "", n)
    into.details += other.details
