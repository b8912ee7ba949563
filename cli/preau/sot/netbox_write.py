"""Write a département into NetBox: diff against a snapshot, then bulk-create, -update, -delete.

Objects are matched on natural keys (slugs, names, cid, prefix, address), so a push that
stopped half-way is finished by the next one, and a push of what NetBox already holds sends
no write at all. Writes go in dependency order (region, sites, rooms, VLANs, prefixes,
circuits, devices, interfaces, MACs, IPs, then primary MAC/IP pointers); deletions of what a
pushed site no longer holds come last, leaves first. Only `preau`-tagged objects are
compared, updated or deleted: what people created by hand is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from preau.model import College, Departement, Site
from preau.sot import ChangeReport, files
from preau.sot.netbox_client import Client
from preau.sot.netbox_read import CONTEXT_PREFIX, Snapshot, site_circuit
from preau.sot.netbox_schema import (
    CIRCUIT_TYPE,
    COLLEGE_CONTAINER,
    POSITION_FIELD,
    SITE_CONTAINER,
    SITE_FIELDS,
    SUPERNET_ROLES,
    UPLINK,
    device_type_slug,
)

Key = Any
Ref = int | str | None
# Beyond this many objects of one kind and verb, the report gives a count, not every name.
DETAIL_LIMIT = 20


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "x"


@dataclass
class Want:
    """An object as preau wants it: `fields` are kept in sync, `extra` is only sent on create."""

    fields: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Have:
    id: int
    fields: dict[str, Any]


def _same(want: Any, have: Any) -> bool:
    if isinstance(want, dict) and isinstance(have, dict):
        return all(_same(v, have.get(k)) for k, v in want.items())
    if isinstance(want, str) and isinstance(have, str):
        return (
            want.lower() == have.lower()
            if re.fullmatch(r"[0-9a-fA-F:]{17}", want)
            else want == have
        )
    return bool(want == have)


class Writer:
    """Applies one push: keeps the ids of what exists or was just created, counts changes."""

    def __init__(self, client: Client, snap: Snapshot, dry_run: bool):
        self.client = client
        self.snap = snap
        self.dry_run = dry_run
        self.ids: dict[str, dict[Key, Ref]] = {}
        self.deletes: list[tuple[str, str, list[tuple[Key, int]]]] = []
        self.changes: dict[tuple[str, str], list[str]] = {}

    # --- bookkeeping -----------------------------------------------------------------------

    def ref(self, kind: str, key: Key) -> Ref:
        """The id of an object (existing or created in this push); a placeholder in a dry run."""
        if key is None:
            return None
        found = self.ids.get(kind, {}).get(key)
        if found is None:
            if not self.dry_run:
                raise KeyError(f"{kind} {key!r} was neither found nor created")
            return f"new:{kind}:{key}"
        return found

    def note(self, verb: str, kind: str, what: str) -> None:
        self.changes.setdefault((verb, kind), []).append(what)

    def report(self) -> ChangeReport:
        report = ChangeReport(dry_run=self.dry_run)
        for (verb, kind), whats in self.changes.items():
            for what in whats[:DETAIL_LIMIT]:
                report.add(verb, kind, what)
            if len(whats) > DETAIL_LIMIT:
                rest = len(whats) - DETAIL_LIMIT
                report.add(verb, kind, "", rest)
                report.details.append(f"{verb} {kind}: … and {rest} more")
        return report

    # --- one kind at a time ----------------------------------------------------------------

    def sync(
        self,
        kind: str,
        path: str,
        want: dict[Key, Want],
        have: dict[Key, Have],
        *,
        prune: Iterable[Key] = (),
        label: Callable[[Key], str] = str,
        lock_order: Callable[[dict[str, Any]], Any] | None = None,
    ) -> None:
        """Create what is missing, update what differs; queue unwanted `prune` keys for deletion."""
        ids = self.ids.setdefault(kind, {})
        for key, h in have.items():
            ids[key] = h.id
        creates: list[tuple[Key, dict[str, Any]]] = []
        updates: list[dict[str, Any]] = []
        for key, w in want.items():
            found = have.get(key)
            if found is None:
                creates.append((key, {**w.fields, **w.extra}))
                self.note("create", kind, label(key))
                continue
            diff = {
                k: v
                for k, v in w.fields.items()
                if not (v == found.fields.get(k) if k == "data" else _same(v, found.fields.get(k)))
            }
            if diff:
                updates.append({"id": found.id, **diff})
                self.note("update", kind, f"{label(key)} ({', '.join(sorted(diff))})")
        stale = [(k, have[k].id) for k in prune if k in have and k not in want]
        if stale and kind == "interface":
            # A parent cannot go before its sub-interfaces.
            stale.sort(key=lambda kv: have[kv[0]].fields.get("parent") is None)
        if stale:
            self.deletes.append((kind, path, stale))
        if self.dry_run:
            return
        parallel = lock_order is not None
        if lock_order is not None:
            creates.sort(key=lambda kb: lock_order(kb[1]))
            # Updates carry only what changed: by id is the one order they all share.
            updates.sort(key=lambda b: b["id"])
        if creates:
            created = self.client.create(path, [body for _, body in creates], parallel)
            for (key, _), obj in zip(creates, created, strict=True):
                ids[key] = int(obj["id"])
        if updates:
            self.client.update(path, updates, parallel)

    def patch(self, kind: str, path: str, changes: list[dict[str, Any]], what: list[str]) -> None:
        """Updates computed outside `sync` (pointers set once both ends exist; no counters)."""
        for w in what:
            self.note("update", kind, w)
        if changes and not self.dry_run:
            self.client.update(path, sorted(changes, key=lambda c: c["id"]), parallel=True)

    def delete_stale(self, label: Callable[[str, Key], str] = lambda k, key: str(key)) -> None:
        """Delete what pushed sites no longer hold, children before parents."""
        for kind, path, stale in reversed(self.deletes):
            for key, _ in stale:
                self.note("delete", kind, label(kind, key))
            if not self.dry_run:
                self.client.delete(path, [i for _, i in stale])


# --- the département's objects, wanted and held --------------------------------------------------


def _cf(obj: dict[str, Any], names: Iterable[str]) -> dict[str, Any]:
    cf = obj.get("custom_fields") or {}
    return {n: cf.get(n) for n in names}


def _slug_of(obj: dict[str, Any] | None, key: str = "slug") -> Any:
    return obj.get(key) if obj else None


def _id_of(obj: dict[str, Any] | None) -> int | None:
    return int(obj["id"]) if obj else None


def context_data(dep: Departement) -> dict[str, Any]:
    d = files.departement_dict(dep)
    return {"preau": {k: v for k, v in d.items() if k not in ("name", "supernets")}}


def _site_fields(site: Site) -> dict[str, Any]:
    if isinstance(site, College):
        return {
            "uai": site.uai,
            "pupils": site.pupils,
            "commune": site.commune,
            "asn": site.asn,
            "preau_kind": "college",
        }
    return {
        "uai": None,
        "pupils": None,
        "commune": site.commune,
        "asn": site.asn,
        "preau_kind": "datacentre",
    }


def _rooms(site: Site) -> tuple[list[str], list[str]]:
    """The site's declared rooms (in order), and the rooms only its devices mention."""
    declared = list(site.rooms) if isinstance(site, College) else []
    extra: list[str] = []
    for d in site.devices:
        if d.room and d.room not in declared and d.room not in extra:
            extra.append(d.room)
    return declared, extra


POSITION_STEP = 100


def positions(order: list[Key], current: dict[Key, Any]) -> dict[Key, int]:
    """Positions that keep `order`, moving as few existing objects as possible.

    NetBox sorts by name, so the model's order lives in a custom field. Positions are spaced:
    removing an object or inserting one between two others changes nobody else's position;
    only when the existing order is wrong or there is no room left is everything renumbered.
    """
    have = [current.get(k) for k in order]
    known = [p for p in have if isinstance(p, int)]
    if all(a < b for a, b in zip(known, known[1:], strict=False)):
        out: dict[Key, int] = {}
        nxt: list[int | None] = [None] * len(order)
        after: int | None = None
        for i in range(len(order) - 1, -1, -1):
            nxt[i] = after
            after = have[i] if isinstance(have[i], int) else after
        prev: int | None = None
        fits = True
        for i, key in enumerate(order):
            p = have[i]
            if not isinstance(p, int):
                hi = nxt[i]
                if prev is None:
                    p = 0 if hi is None else hi - POSITION_STEP
                elif hi is None:
                    p = prev + POSITION_STEP
                else:
                    p = (prev + hi) // 2
                if (prev is not None and p <= prev) or (hi is not None and p >= hi):
                    fits = False
                    break
            out[key] = p
            prev = p
        if fits:
            return out
    return {key: i * POSITION_STEP for i, key in enumerate(order)}


def push(client: Client, snap: Snapshot, dep: Departement, dry_run: bool) -> ChangeReport:
    """Make NetBox hold `dep` (already validated); sites not in `dep` are left alone."""
    w = Writer(client, snap, dry_run)
    cat = snap.catalogue
    tags = [snap.tag_id]
    T = {"tags": tags}
    pushed = {s.slug for s in dep.sites}
    raw_sites = {slug: raw for slug, raw in snap.sites.items() if slug in pushed}

    # Région and the département defaults (config context).
    region_have = (
        {snap.region["slug"]: Have(snap.region["id"], dict(snap.region))} if snap.region else {}
    )
    w.sync(
        "region",
        "dcim/regions",
        {dep.slug: Want({"name": dep.name, "slug": dep.slug}, T)},
        region_have,
    )
    ctx_name = f"{CONTEXT_PREFIX}{dep.slug}"
    ctx_have = {}
    if snap.context:
        c = snap.context
        ctx_have[ctx_name] = Have(
            c["id"],
            {
                "name": c["name"],
                "data": c["data"],
                "regions": sorted(r["id"] for r in c["regions"]),
            },
        )
    w.sync(
        "config-context",
        "extras/config-contexts",
        {
            ctx_name: Want(
                {
                    "name": ctx_name,
                    "data": context_data(dep),
                    "regions": [w.ref("region", dep.slug)],
                },
                {"weight": 1000, "description": "preau: département defaults"},
            )
        },
        ctx_have,
    )

    # Top-level prefixes: supernets (unscoped) and the containers and uplinks of pushed sites.
    top_have: dict[Key, Have] = {}
    top_prune: list[Key] = []
    for p in snap.top_prefixes:
        scope = p.get("scope") or {}
        role = _slug_of(p.get("role"))
        top_have[p["prefix"]] = Have(
            p["id"],
            {
                "prefix": p["prefix"],
                "status": p["status"],
                "role": cat["role"].get(role),
                "scope_type": None if not scope else "dcim.site" if "slug" in scope else "other",
                "scope_id": scope.get("id"),
                "vlan": _id_of(p.get("vlan")),
                "description": p.get("description") or "",
            },
        )
        if role in SUPERNET_ROLES.values() or scope.get("slug") in pushed:
            top_prune.append(p["prefix"])
    supernets_want = {
        str(getattr(dep.supernets, key)): Want(
            {
                "prefix": str(getattr(dep.supernets, key)),
                "status": "container",
                "role": cat["role"][role],
                "scope_type": None,
                "scope_id": None,
                "vlan": None,
            },
            {**T, "description": f"preau: {dep.slug} {key} supernet"},
        )
        for key, role in SUPERNET_ROLES.items()
    }
    supernet_keys = [k for k in top_have if _role_of(top_have[k], cat) in SUPERNET_ROLES.values()]
    w.sync(
        "prefix",
        "ipam/prefixes",
        supernets_want,
        {k: v for k, v in top_have.items() if k in supernets_want or k in supernet_keys},
        prune=supernet_keys,
    )

    # Providers and the core network circuits end on (Z side).
    providers = sorted({s.circuit.provider for s in dep.sites if s.circuit})
    w.sync(
        "provider",
        "circuits/providers",
        {p: Want({"name": p}, {**T, "slug": slugify(p)}) for p in providers},
        {p: Have(i, {"name": p}) for p, i in cat["provider"].items()},
    )
    core = dep.routing.core_name
    nets_have = {}
    for n in snap.provider_networks.values():
        nets_have[(n["provider"]["id"], n["name"])] = Have(
            n["id"], {"name": n["name"], "provider": n["provider"]["id"]}
        )
    nets_want = {}
    for prov in providers:
        pid = w.ref("provider", prov)
        nets_want[(pid, core)] = Want({"name": core, "provider": pid}, T)
    w.sync(
        "provider-network",
        "circuits/provider-networks",
        nets_want,
        nets_have,
        label=lambda k: f"{k[1]}",
    )

    # Sites.
    site_have = {
        slug: Have(
            raw["id"],
            {
                "name": raw["name"],
                "slug": slug,
                "region": _id_of(raw.get("region")),
                "custom_fields": _cf(raw, SITE_FIELDS),
            },
        )
        for slug, raw in raw_sites.items()
    }
    w.sync(
        "site",
        "dcim/sites",
        {
            s.slug: Want(
                {
                    "name": s.name,
                    "slug": s.slug,
                    "region": w.ref("region", dep.slug),
                    "custom_fields": _site_fields(s),
                },
                {**T, "status": "active"},
            )
            for s in dep.sites
        },
        site_have,
    )

    # Rooms (locations): declared rooms carry a position, rooms only devices mention do not.
    loc_want: dict[Key, Want] = {}
    loc_have: dict[Key, Have] = {}
    for slug, raw in raw_sites.items():
        for loc in raw.get("locations") or []:
            loc_have[(slug, loc["name"])] = Have(
                loc["id"],
                {
                    "name": loc["name"],
                    "slug": loc["slug"],
                    "site": raw["id"],
                    "custom_fields": _cf(loc, [POSITION_FIELD]),
                },
            )
    for s in dep.sites:
        declared, extra = _rooms(s)
        keys = [(s.slug, r) for r in declared]
        pos: dict[Key, int | None] = dict(positions(keys, _positions(loc_have, keys)))
        pos.update({(s.slug, r): None for r in extra})
        for room in (*declared, *extra):
            loc_want[(s.slug, room)] = Want(
                {
                    "name": room,
                    "slug": slugify(room),
                    "site": w.ref("site", s.slug),
                    "custom_fields": {POSITION_FIELD: pos[(s.slug, room)]},
                },
                {**T, "status": "active"},
            )
    w.sync("location", "dcim/locations", loc_want, loc_have, prune=loc_have, label=_pair)

    # VLAN groups (one per site) and VLANs.
    grp_want = {
        s.slug: Want(
            {
                "name": s.slug,
                "slug": s.slug,
                "scope_type": "dcim.site",
                "scope_id": w.ref("site", s.slug),
            },
            T,
        )
        for s in dep.sites
    }
    grp_have: dict[Key, Have] = {}
    vlan_have: dict[Key, Have] = {}
    for slug, raw in raw_sites.items():
        for g in raw.get("vlan_groups") or []:
            if g["slug"] != slug:
                continue
            grp_have[slug] = Have(
                g["id"],
                {
                    "name": g["name"],
                    "slug": g["slug"],
                    "scope_type": "dcim.site",
                    "scope_id": raw["id"],
                },
            )
            for v in g.get("vlans") or []:
                vlan_have[(slug, v["vid"])] = Have(
                    v["id"],
                    {
                        "vid": v["vid"],
                        "name": v["name"],
                        "group": g["id"],
                        "site": _id_of(v.get("site")),
                        "role": cat["role"].get(_slug_of(v.get("role"))),
                        "status": v["status"],
                    },
                )
    w.sync("vlan-group", "ipam/vlan-groups", grp_want, grp_have, prune=grp_have)
    vlan_want = {}
    for s in dep.sites:
        for v in dep.site_vlans(s):
            vlan_want[(s.slug, v.vid)] = Want(
                {
                    "vid": v.vid,
                    "name": v.name,
                    "group": w.ref("vlan-group", s.slug),
                    "site": w.ref("site", s.slug),
                    "role": cat["role"][v.role],
                    "status": "active",
                },
                T,
            )
    w.sync("vlan", "ipam/vlans", vlan_want, vlan_have, prune=vlan_have, label=_pair)

    # Prefixes of the sites: container, one per VLAN, the uplink.
    pfx_want: dict[Key, Want] = {}
    for s in dep.sites:
        sid = w.ref("site", s.slug)
        scope = {"scope_type": "dcim.site", "scope_id": sid}
        role = COLLEGE_CONTAINER if isinstance(s, College) else SITE_CONTAINER
        pfx_want[str(s.container)] = Want(
            {
                "prefix": str(s.container),
                "status": "container",
                "role": cat["role"][role],
                **scope,
                "vlan": None,
                "description": "",
            },
            T,
        )
        for v in dep.site_vlans(s):
            pfx_want[str(v.prefix)] = Want(
                {
                    "prefix": str(v.prefix),
                    "status": "active",
                    "role": cat["role"][v.role],
                    **scope,
                    "vlan": w.ref("vlan", (s.slug, v.vid)),
                },
                T,
            )
        if s.circuit:
            pfx_want[str(s.circuit.uplink)] = Want(
                {
                    "prefix": str(s.circuit.uplink),
                    "status": "active",
                    "role": cat["role"][UPLINK],
                    **scope,
                    "vlan": None,
                    "description": "",
                },
                T,
            )
    pfx_have = {
        k: v for k, v in top_have.items() if k not in supernets_want and k not in supernet_keys
    }
    site_prune: list[Key] = [k for k in top_prune if k in pfx_have]
    for raw in raw_sites.values():
        for p in raw.get("prefixes") or []:
            pfx_have[p["prefix"]] = Have(
                p["id"],
                {
                    "prefix": p["prefix"],
                    "status": p["status"],
                    "role": cat["role"].get(_slug_of(p.get("role"))),
                    "scope_type": "dcim.site",
                    "scope_id": raw["id"],
                    "vlan": _id_of(p.get("vlan")),
                    "description": p.get("description") or "",
                },
            )
            site_prune.append(p["prefix"])
    w.sync("prefix", "ipam/prefixes", pfx_want, pfx_have, prune=site_prune)

    # Circuits and their two terminations.
    circ_have: dict[Key, Have] = {}
    term_have: dict[Key, Have] = {}
    for raw in raw_sites.values():
        rc = site_circuit(raw)
        if rc is None:
            continue
        c = rc
        circ_have[c["cid"]] = Have(
            c["id"],
            {
                "cid": c["cid"],
                "provider": c["provider"]["id"],
                "type": cat["circuit-type"].get(_slug_of(c.get("type"))),
                "commit_rate": c["commit_rate"],
                "status": c["status"],
            },
        )
        for t in c.get("terminations") or []:
            term = t.get("termination") or {}
            ttype = {
                "SiteType": "dcim.site",
                "ProviderNetworkType": "circuits.providernetwork",
            }.get(term.get("__typename", ""))
            term_have[(c["cid"], t["term_side"])] = Have(
                t["id"],
                {
                    "circuit": c["id"],
                    "term_side": t["term_side"],
                    "termination_type": ttype,
                    "termination_id": _id_of(term) if term.get("id") else None,
                },
            )
    circ_want: dict[Key, Want] = {}
    term_want: dict[Key, Want] = {}
    for s in dep.sites:
        if not s.circuit:
            continue
        circuit = s.circuit
        circ_want[circuit.cid] = Want(
            {
                "cid": circuit.cid,
                "provider": w.ref("provider", circuit.provider),
                "type": cat["circuit-type"][CIRCUIT_TYPE],
                "commit_rate": circuit.commit_rate_mbps * 1000,
                "status": "active",
            },
            {**T, "description": f"uplink of {s.slug}"},
        )
    w.sync("circuit", "circuits/circuits", circ_want, circ_have, prune=circ_have)
    for s in dep.sites:
        if not s.circuit:
            continue
        circuit = s.circuit
        cid = w.ref("circuit", circuit.cid)
        pid = w.ref("provider", circuit.provider)
        term_want[(circuit.cid, "A")] = Want(
            {
                "circuit": cid,
                "term_side": "A",
                "termination_type": "dcim.site",
                "termination_id": w.ref("site", s.slug),
            },
            T,
        )
        term_want[(circuit.cid, "Z")] = Want(
            {
                "circuit": cid,
                "term_side": "Z",
                "termination_type": "circuits.providernetwork",
                "termination_id": w.ref("provider-network", (pid, core)),
            },
            T,
        )
    # Terminations go with their circuit: never pruned on their own.
    w.sync(
        "circuit-termination", "circuits/circuit-terminations", term_want, term_have, label=_pair
    )

    # Devices.
    dev_have: dict[Key, Have] = {}
    itf_have: dict[Key, Have] = {}
    mac_have: dict[Key, Have] = {}
    ip_have: dict[Key, Have] = {}
    primary_ip_have: dict[str, int | None] = {}
    primary_mac_have: dict[Key, int | None] = {}
    for raw in raw_sites.values():
        for d in raw.get("devices") or []:
            dev_have[d["name"]] = Have(
                d["id"],
                {
                    "name": d["name"],
                    "site": raw["id"],
                    "location": _id_of(d.get("location")),
                    "role": _id_of(d.get("role")),
                    "device_type": _id_of(d.get("device_type")),
                    "platform": _id_of(d.get("platform")),
                    "custom_fields": _cf(d, [POSITION_FIELD]),
                },
            )
            primary_ip_have[d["name"]] = _id_of(d.get("primary_ip4"))
            for i in d.get("interfaces") or []:
                key = (d["name"], i["name"])
                itf_have[key] = Have(
                    i["id"],
                    {
                        "device": d["id"],
                        "name": i["name"],
                        "type": i["type"],
                        "parent": _id_of(i.get("parent")),
                        "mgmt_only": i["mgmt_only"],
                        "mode": i.get("mode") or None,
                        "untagged_vlan": _id_of(i.get("untagged_vlan")),
                        "custom_fields": _cf(i, [POSITION_FIELD]),
                    },
                )
                primary_mac_have[key] = _id_of(i.get("primary_mac_address"))
                for m in i.get("mac_addresses") or []:
                    mac_have[m["mac_address"].lower()] = Have(
                        m["id"],
                        {
                            "mac_address": m["mac_address"],
                            "assigned_object_type": "dcim.interface",
                            "assigned_object_id": i["id"],
                        },
                    )
                for a in i.get("ip_addresses") or []:
                    ip_have[a["address"].split("/")[0]] = Have(
                        a["id"],
                        {
                            "address": a["address"],
                            "status": a["status"],
                            "assigned_object_type": "dcim.interface",
                            "assigned_object_id": i["id"],
                        },
                    )
    dev_want: dict[Key, Want] = {}
    for s in dep.sites:
        names = [d.name for d in s.devices]
        dev_pos = positions(names, _positions(dev_have, names))
        for d in s.devices:
            dev_want[d.name] = Want(
                {
                    "name": d.name,
                    "site": w.ref("site", s.slug),
                    "location": w.ref("location", (s.slug, d.room)) if d.room else None,
                    "role": cat["device-role"][d.role],
                    "device_type": cat["device-type"][device_type_slug(d.role)],
                    "platform": cat["platform"][d.platform] if d.platform else None,
                    "custom_fields": {POSITION_FIELD: dev_pos[d.name]},
                },
                {**T, "status": "active"},
            )
    # Devices count into their type: concurrent chunks sorted by type cannot deadlock.
    w.sync(
        "device", "dcim/devices", dev_want, dev_have, prune=dev_have,
        lock_order=lambda b: (b.get("device_type") or 0, b.get("name") or ""),
    )  # fmt: skip

    # Interfaces: parents first, so sub-interfaces can point at them.
    itf_want: dict[Key, Want] = {}
    for s in dep.sites:
        vids = {v.role: v.vid for v in dep.site_vlans(s)}
        for d in s.devices:
            itf_keys = [(d.name, i.name) for i in d.interfaces]
            itf_pos = positions(itf_keys, _positions(itf_have, itf_keys))
            for i in d.interfaces:
                vlan = w.ref("vlan", (s.slug, vids[i.vlan])) if i.vlan in vids else None
                itf_want[(d.name, i.name)] = Want(
                    {
                        "device": w.ref("device", d.name),
                        "name": i.name,
                        "type": "virtual" if i.parent else "1000base-t",
                        "parent": None,  # set below, once parents exist
                        "mgmt_only": i.mgmt_only,
                        "mode": "access" if vlan else None,
                        "untagged_vlan": vlan,
                        "custom_fields": {POSITION_FIELD: itf_pos[(d.name, i.name)]},
                    },
                    T,
                )
    parent_of = {(d.name, i.name): i.parent for _, d in dep.all_devices() for i in d.interfaces}
    parents = {k: v for k, v in itf_want.items() if not parent_of[k]}
    children = {k: v for k, v in itf_want.items() if parent_of[k]}
    by_device = _by("device")
    w.sync("interface", "dcim/interfaces", parents, itf_have, label=_pair, lock_order=by_device)
    for k, v in children.items():
        v.fields["parent"] = w.ref("interface", (k[0], parent_of[k]))
    stale_itfs = [k for k in itf_have if k not in itf_want]
    w.sync(
        "interface", "dcim/interfaces", children, itf_have, prune=stale_itfs, label=_pair,
        lock_order=by_device,
    )  # fmt: skip

    # MAC addresses and IP addresses, assigned to interfaces.
    mac_want: dict[Key, Want] = {}
    ip_want: dict[Key, Want] = {}
    primary_mac_want: dict[Key, str] = {}
    primary_ip_want: dict[str, str] = {}
    for s in dep.sites:
        for d in s.devices:
            if d.primary_address is not None:
                primary_ip_want[d.name] = str(d.primary_address.ip)
            for i in d.interfaces:
                itf = w.ref("interface", (d.name, i.name))
                if i.mac:
                    mac_want[i.mac.lower()] = Want(
                        {
                            "mac_address": i.mac.lower(),
                            "assigned_object_type": "dcim.interface",
                            "assigned_object_id": itf,
                        },
                        T,
                    )
                    primary_mac_want[(d.name, i.name)] = i.mac.lower()
                if i.address is not None:
                    ip_want[str(i.address.ip)] = Want(
                        {
                            "address": str(i.address),
                            "status": "active",
                            "assigned_object_type": "dcim.interface",
                            "assigned_object_id": itf,
                        },
                        T,
                    )
    # NetBox refuses to move an address that is still some object's primary: unset those first.
    _release_primaries(
        w,
        "interface",
        "dcim/interfaces",
        "primary_mac_address",
        mac_want,
        mac_have,
        primary_mac_have,
    )
    _release_primaries(
        w, "device", "dcim/devices", "primary_ip4", ip_want, ip_have, primary_ip_have
    )
    by_interface = _by("assigned_object_id")
    w.sync(
        "mac-address", "dcim/mac-addresses", mac_want, mac_have, prune=mac_have,
        lock_order=by_interface,
    )  # fmt: skip
    w.sync(
        "ip-address", "ipam/ip-addresses", ip_want, ip_have, prune=ip_have,
        lock_order=by_interface,
    )  # fmt: skip

    # Pointers: each interface's primary MAC, each device's primary IP.
    changes, what = [], []
    for key, mac in primary_mac_want.items():
        want_id = w.ref("mac-address", mac)
        if primary_mac_have.get(key) != want_id:
            changes.append({"id": w.ref("interface", key), "primary_mac_address": want_id})
            what.append(f"{key[0]} {key[1]} (primary_mac_address)")
    w.patch("interface", "dcim/interfaces", changes, what)
    changes, what = [], []
    for name, ip in primary_ip_want.items():
        want_id = w.ref("ip-address", ip)
        if primary_ip_have.get(name) != want_id:
            changes.append({"id": w.ref("device", name), "primary_ip4": want_id})
            what.append(f"{name} (primary_ip4)")
    w.patch("device", "dcim/devices", changes, what)

    w.delete_stale(lambda kind, key: _pair(key) if isinstance(key, tuple) else str(key))
    return w.report()


def _positions(have: dict[Key, Have], keys: list[Key]) -> dict[Key, Any]:
    return {k: have[k].fields["custom_fields"].get(POSITION_FIELD) for k in keys if k in have}


def _by(field: str) -> Callable[[dict[str, Any]], Any]:
    """Sort key for bulk bodies by the parent they lock (ids; placeholders sort last)."""
    return lambda b: (
        (0, b[field], "") if isinstance(b.get(field), int) else (1, 0, str(b.get(field)))
    )


def _pair(key: Key) -> str:
    return " ".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


def _role_of(h: Have, cat: dict[str, dict[str, int]]) -> str | None:
    return next((slug for slug, i in cat["role"].items() if i == h.fields.get("role")), None)


def _release_primaries(
    w: Writer,
    kind: str,
    path: str,
    pointer: str,
    want: dict[Key, Want],
    have: dict[Key, Have],
    primaries: dict[Key, int | None],
) -> None:
    moving = {
        h.id
        for k, h in have.items()
        if k not in want or want[k].fields["assigned_object_id"] != h.fields["assigned_object_id"]
    }
    owners = [owner for owner, pid in primaries.items() if pid in moving]
    if owners and not w.dry_run:
        w.client.update(path, [{"id": w.ref(kind, owner), pointer: None} for owner in owners])
        for owner in owners:
            primaries[owner] = None
