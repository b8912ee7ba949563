"""Write a département into NetBox: one table of per-kind sync specs, driven by one loop.

Each row of `SPECS` says, for one kind of object, what preau wants (`wanted`), what NetBox holds
(`current`, parsed once from the snapshot), which held objects a push may delete (`prune`) and,
by its place in the table, the order of writes: region, context, supernets, providers, sites,
rooms, VLANs, prefixes, circuits, devices, the MACs of new interfaces (unassigned), interfaces
(parents before sub-interfaces, new ones created with their primary MAC), MACs, IPs, then the
primary MAC/IP pointers still to set. `Writer.sync` diffs one row and sends bulk writes (JSON
lists of 200); deletions of what a pushed site no longer holds come last, leaves first.

Objects are matched on natural keys (slugs, names, cid, prefix, address), so a push that
stopped half-way is finished by the next one, and a push of what NetBox already holds sends
no write at all. Only `preau`-tagged objects are compared, updated or deleted: what people
created by hand is left alone.
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
    LOCATION_FIELDS,
    PC_IMAGE_FIELD,
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
# Told how far a push has got: (what is being written, objects done, objects in this step).
Progress = Callable[[str, int, int], None]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-") or "x"


@dataclass
class Want:
    """An object as preau wants it: `fields` are kept in sync, `extra` is only sent on create."""

    fields: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Have:
    id: Any  # an int; in a dry run, the placeholder of an object not created yet
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


def _pair(key: Key) -> str:
    return " ".join(str(k) for k in key) if isinstance(key, tuple) else str(key)


@dataclass(frozen=True)
class Spec:
    """One kind of object kept in sync: a row of the push.

    `wanted` and `current` are called when the row's turn comes, so `wanted` can refer to the
    ids of what earlier rows created. `prune` names the held keys a push may delete when they
    are not wanted (None: never deleted on their own). `lock_order` sorts the bodies of bulk
    writes by the parent rows they lock, which lets two chunks go at once. An `update_only`
    row sets pointers between objects that exist by then; a `quiet` one is not reported.
    """

    kind: str
    path: str
    wanted: Callable[[Push], dict[Key, Want]]
    current: Callable[[Push], dict[Key, Have]]
    prune: Callable[[Push, dict[Key, Have]], Iterable[Key]] | None = None
    label: Callable[[Key], str] = _pair
    lock_order: Callable[[dict[str, Any]], Any] | None = None
    prune_order: Callable[[Have], Any] | None = None
    update_only: bool = False
    quiet: bool = False


def _all(_: Push, have: dict[Key, Have]) -> Iterable[Key]:
    return list(have)


class Writer:
    """Applies one push: keeps the ids of what exists or was just created, counts changes."""

    def __init__(self, client: Client, dry_run: bool, progress: Progress | None = None):
        self.client = client
        self.dry_run = dry_run
        self.progress = progress
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

    def _tick(self, what: str, total: int) -> Callable[[int], None] | None:
        """A per-chunk callback telling `progress` how much of `what` is written."""
        progress = self.progress
        if progress is None:
            return None
        done = [0]

        def tick(n: int) -> None:
            done[0] += n
            progress(what, done[0], total)

        progress(what, 0, total)
        return tick

    # --- one row of the table ----------------------------------------------------------------

    def sync(
        self, spec: Spec, want: dict[Key, Want], have: dict[Key, Have], prune: Iterable[Key] = ()
    ) -> None:
        """Create what is missing, update what differs; queue unwanted `prune` keys for deletion."""
        kind = spec.kind
        ids = self.ids.setdefault(kind, {})
        for key, h in have.items():
            ids[key] = h.id
        creates: list[tuple[Key, dict[str, Any]]] = []
        updates: list[dict[str, Any]] = []
        changed: list[tuple[Have, dict[str, Any]]] = []
        for key, w in want.items():
            found = have.get(key)
            if found is None:
                if spec.update_only:
                    raise KeyError(f"{kind} {key!r} should exist by now")
                creates.append((key, {**w.fields, **w.extra}))
                if not spec.quiet:
                    self.note("create", kind, spec.label(key))
                continue
            diff = {
                k: v
                for k, v in w.fields.items()
                if not (v == found.fields.get(k) if k == "data" else _same(v, found.fields.get(k)))
            }
            if diff:
                updates.append({"id": found.id, **diff})
                changed.append((found, diff))
                if not spec.quiet:
                    self.note("update", kind, f"{spec.label(key)} ({', '.join(sorted(diff))})")
        stale = [(k, have[k].id) for k in prune if k in have and k not in want]
        if stale and spec.prune_order is not None:
            order = spec.prune_order
            stale.sort(key=lambda kv: order(have[kv[0]]))
        if stale:
            self.deletes.append((kind, spec.path, stale))
        if self.dry_run:
            return
        parallel = spec.lock_order is not None
        if spec.lock_order is not None:
            lock_order = spec.lock_order
            creates.sort(key=lambda kb: lock_order(kb[1]))
            # Updates carry only what changed: by id is the one order they all share.
            updates.sort(key=lambda b: b["id"])
        if creates:
            done = self._tick(f"creating {kind}", len(creates))
            bodies = [body for _, body in creates]
            created = self.client.create(spec.path, bodies, parallel, done=done)
            for (key, _), obj in zip(creates, created, strict=True):
                ids[key] = int(obj["id"])
        if updates:
            done = self._tick(f"updating {kind}", len(updates))
            self.client.update(spec.path, updates, parallel, done=done)
            # Later rows see what NetBox holds now (a released pointer is None).
            for found, diff in changed:
                found.fields.update(diff)

    def delete_stale(self) -> None:
        """Delete what pushed sites no longer hold, children before parents."""
        for kind, path, stale in reversed(self.deletes):
            for key, _ in stale:
                self.note("delete", kind, _pair(key))
            if not self.dry_run:
                done = self._tick(f"deleting {kind}", len(stale))
                self.client.delete(path, [i for _, i in stale], done=done)


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
            "directory": site.directory,
        }
    return {
        "uai": None,
        "pupils": None,
        "commune": site.commune,
        "asn": site.asn,
        "preau_kind": "datacentre",
        "directory": None,
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


# --- what NetBox holds, parsed once from the snapshot -----------------------------------------


def held(snap: Snapshot, pushed: set[str]) -> dict[str, dict[Key, Have]]:
    """Every object the push compares against, by kind (or by the row reading it) and key."""
    cat = snap.catalogue
    out: dict[str, dict[Key, Have]] = {name: {} for name in _HELD}
    if snap.region:
        out["region"][snap.region["slug"]] = Have(snap.region["id"], dict(snap.region))
    if snap.context:
        c = snap.context
        out["config-context"][c["name"]] = Have(
            c["id"],
            {
                "name": c["name"],
                "data": c["data"],
                "regions": sorted(r["id"] for r in c["regions"]),
            },
        )
    for p in snap.top_prefixes:
        scope = p.get("scope") or {}
        role = _slug_of(p.get("role"))
        out["top-prefix"][p["prefix"]] = Have(
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
            out["top-prunable"][p["prefix"]] = out["top-prefix"][p["prefix"]]
    for name, i in cat["provider"].items():
        out["provider"][name] = Have(i, {"name": name})
    for n in snap.provider_networks.values():
        out["provider-network"][(n["provider"]["id"], n["name"])] = Have(
            n["id"], {"name": n["name"], "provider": n["provider"]["id"]}
        )
    for slug, raw in snap.sites.items():
        if slug in pushed:
            _held_site(out, cat, slug, raw)
    for m in snap.unassigned_macs:
        out["mac-address"].setdefault(
            m["mac_address"].lower(),
            Have(
                m["id"],
                {"mac_address": m["mac_address"], "assigned_object_type": None,
                 "assigned_object_id": None},
            ),
        )  # fmt: skip
    return out


_HELD = (
    "region", "config-context", "top-prefix", "top-prunable", "provider", "provider-network",
    "site", "location", "vlan-group", "vlan", "site-prefix", "circuit", "circuit-termination",
    "device", "interface", "mac-address", "ip-address", "primary-mac", "primary-ip",
)  # fmt: skip


def _held_site(
    out: dict[str, dict[Key, Have]], cat: dict[str, dict[str, int]], slug: str, raw: dict[str, Any]
) -> None:
    out["site"][slug] = Have(
        raw["id"],
        {
            "name": raw["name"],
            "slug": slug,
            "region": _id_of(raw.get("region")),
            "custom_fields": _cf(raw, SITE_FIELDS),
        },
    )
    for loc in raw.get("locations") or []:
        out["location"][(slug, loc["name"])] = Have(
            loc["id"],
            {
                "name": loc["name"],
                "slug": loc["slug"],
                "site": raw["id"],
                "custom_fields": _cf(loc, [POSITION_FIELD, *LOCATION_FIELDS]),
            },
        )
    for g in raw.get("vlan_groups") or []:
        if g["slug"] != slug:
            continue
        out["vlan-group"][slug] = Have(
            g["id"],
            {
                "name": g["name"],
                "slug": g["slug"],
                "scope_type": "dcim.site",
                "scope_id": raw["id"],
            },
        )
        for v in g.get("vlans") or []:
            out["vlan"][(slug, v["vid"])] = Have(
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
    for p in raw.get("prefixes") or []:
        out["site-prefix"][p["prefix"]] = Have(
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
    c = site_circuit(raw)
    if c is not None:
        out["circuit"][c["cid"]] = Have(
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
            out["circuit-termination"][(c["cid"], t["term_side"])] = Have(
                t["id"],
                {
                    "circuit": c["id"],
                    "term_side": t["term_side"],
                    "termination_type": ttype,
                    "termination_id": _id_of(term) if term.get("id") else None,
                },
            )
    for d in raw.get("devices") or []:
        out["device"][d["name"]] = Have(
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
        out["primary-ip"][d["name"]] = Have(d["id"], {"primary_ip4": _id_of(d.get("primary_ip4"))})
        for i in d.get("interfaces") or []:
            key = (d["name"], i["name"])
            out["interface"][key] = Have(
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
            out["primary-mac"][key] = Have(
                i["id"], {"primary_mac_address": _id_of(i.get("primary_mac_address"))}
            )
            for m in i.get("mac_addresses") or []:
                out["mac-address"][m["mac_address"].lower()] = Have(
                    m["id"],
                    {
                        "mac_address": m["mac_address"],
                        "assigned_object_type": "dcim.interface",
                        "assigned_object_id": i["id"],
                    },
                )
            for a in i.get("ip_addresses") or []:
                out["ip-address"][a["address"].split("/")[0]] = Have(
                    a["id"],
                    {
                        "address": a["address"],
                        "status": a["status"],
                        "assigned_object_type": "dcim.interface",
                        "assigned_object_id": i["id"],
                    },
                )


# --- what preau wants, row by row ----------------------------------------------------------------


@dataclass
class Push:
    """One push under way: the département, what NetBox held, the writer and its ids."""

    dep: Departement
    snap: Snapshot
    w: Writer
    held: dict[str, dict[Key, Have]]
    memo: dict[str, Any] = field(default_factory=dict)

    @property
    def cat(self) -> dict[str, dict[str, int]]:
        return self.snap.catalogue

    @property
    def tags(self) -> dict[str, Any]:
        return {"tags": [self.snap.tag_id]}

    def ref(self, kind: str, key: Key) -> Ref:
        return self.w.ref(kind, key)

    def once(self, name: str, make: Callable[[Push], Any]) -> Any:
        """What `make` returns, computed once per push (rows sharing a wanted set)."""
        if name not in self.memo:
            self.memo[name] = make(self)
        return self.memo[name]


def _held_as(name: str) -> Callable[[Push], dict[Key, Have]]:
    return lambda c: c.held[name]


def _want_region(c: Push) -> dict[Key, Want]:
    return {c.dep.slug: Want({"name": c.dep.name, "slug": c.dep.slug}, c.tags)}


def _want_context(c: Push) -> dict[Key, Want]:
    """The département's defaults, as one config context on its region (generic: every key
    of the model's département settings but its name and supernets goes in as it is)."""
    return {
        f"{CONTEXT_PREFIX}{c.dep.slug}": Want(
            {
                "name": f"{CONTEXT_PREFIX}{c.dep.slug}",
                "data": context_data(c.dep),
                "regions": [c.ref("region", c.dep.slug)],
            },
            {"weight": 1000, "description": "preau: département defaults"},
        )
    }


def _supernet_keys(c: Push) -> set[str]:
    return {str(getattr(c.dep.supernets, key)) for key in SUPERNET_ROLES}


def _held_supernets(c: Push) -> list[Key]:
    """Held prefixes with a supernet role (whatever their CIDR)."""
    top = c.held["top-prefix"]
    return [k for k in top if _role_of(top[k], c.cat) in SUPERNET_ROLES.values()]


def _want_supernets(c: Push) -> dict[Key, Want]:
    return {
        str(getattr(c.dep.supernets, key)): Want(
            {
                "prefix": str(getattr(c.dep.supernets, key)),
                "status": "container",
                "role": c.cat["role"][role],
                "scope_type": None,
                "scope_id": None,
                "vlan": None,
            },
            {**c.tags, "description": f"preau: {c.dep.slug} {key} supernet"},
        )
        for key, role in SUPERNET_ROLES.items()
    }


def _have_supernets(c: Push) -> dict[Key, Have]:
    keys = _supernet_keys(c) | set(_held_supernets(c))
    return {k: v for k, v in c.held["top-prefix"].items() if k in keys}


def _providers(c: Push) -> list[str]:
    return sorted({s.circuit.provider for s in c.dep.sites if s.circuit})


def _want_providers(c: Push) -> dict[Key, Want]:
    return {p: Want({"name": p}, {**c.tags, "slug": slugify(p)}) for p in _providers(c)}


def _want_provider_networks(c: Push) -> dict[Key, Want]:
    core = c.dep.routing.core_name
    out = {}
    for prov in _providers(c):
        pid = c.ref("provider", prov)
        out[(pid, core)] = Want({"name": core, "provider": pid}, c.tags)
    return out


def _want_sites(c: Push) -> dict[Key, Want]:
    return {
        s.slug: Want(
            {
                "name": s.name,
                "slug": s.slug,
                "region": c.ref("region", c.dep.slug),
                "custom_fields": _site_fields(s),
            },
            {**c.tags, "status": "active"},
        )
        for s in c.dep.sites
    }


def _want_locations(c: Push) -> dict[Key, Want]:
    """Rooms: declared rooms carry a position, rooms only devices mention do not."""
    out: dict[Key, Want] = {}
    for s in c.dep.sites:
        declared, extra = _rooms(s)
        keys = [(s.slug, r) for r in declared]
        pos: dict[Key, int | None] = dict(positions(keys, _positions(c.held["location"], keys)))
        pos.update({(s.slug, r): None for r in extra})
        images = s.room_images if isinstance(s, College) else {}
        for room in (*declared, *extra):
            out[(s.slug, room)] = Want(
                {
                    "name": room,
                    "slug": slugify(room),
                    "site": c.ref("site", s.slug),
                    "custom_fields": {
                        POSITION_FIELD: pos[(s.slug, room)],
                        PC_IMAGE_FIELD: images.get(room),
                    },
                },
                {**c.tags, "status": "active"},
            )
    return out


def _want_vlan_groups(c: Push) -> dict[Key, Want]:
    return {
        s.slug: Want(
            {
                "name": s.slug,
                "slug": s.slug,
                "scope_type": "dcim.site",
                "scope_id": c.ref("site", s.slug),
            },
            c.tags,
        )
        for s in c.dep.sites
    }


def _want_vlans(c: Push) -> dict[Key, Want]:
    out: dict[Key, Want] = {}
    for s in c.dep.sites:
        for v in c.dep.site_vlans(s):
            out[(s.slug, v.vid)] = Want(
                {
                    "vid": v.vid,
                    "name": v.name,
                    "group": c.ref("vlan-group", s.slug),
                    "site": c.ref("site", s.slug),
                    "role": c.cat["role"][v.role],
                    "status": "active",
                },
                c.tags,
            )
    return out


def _want_site_prefixes(c: Push) -> dict[Key, Want]:
    """The prefixes of the sites: container, one per VLAN, the uplink."""
    out: dict[Key, Want] = {}
    for s in c.dep.sites:
        scope = {"scope_type": "dcim.site", "scope_id": c.ref("site", s.slug)}
        role = COLLEGE_CONTAINER if isinstance(s, College) else SITE_CONTAINER
        out[str(s.container)] = Want(
            {
                "prefix": str(s.container),
                "status": "container",
                "role": c.cat["role"][role],
                **scope,
                "vlan": None,
                "description": "",
            },
            c.tags,
        )
        for v in c.dep.site_vlans(s):
            out[str(v.prefix)] = Want(
                {
                    "prefix": str(v.prefix),
                    "status": "active",
                    "role": c.cat["role"][v.role],
                    **scope,
                    "vlan": c.ref("vlan", (s.slug, v.vid)),
                },
                c.tags,
            )
        if s.circuit:
            out[str(s.circuit.uplink)] = Want(
                {
                    "prefix": str(s.circuit.uplink),
                    "status": "active",
                    "role": c.cat["role"][UPLINK],
                    **scope,
                    "vlan": None,
                    "description": "",
                },
                c.tags,
            )
    return out


def _have_site_prefixes(c: Push) -> dict[Key, Have]:
    """Top-level prefixes other than supernets (an allocation becomes a site's), then the sites'."""
    skip = _supernet_keys(c) | set(_held_supernets(c))
    out = {k: v for k, v in c.held["top-prefix"].items() if k not in skip}
    return {**out, **c.held["site-prefix"]}


def _prune_site_prefixes(c: Push, have: dict[Key, Have]) -> Iterable[Key]:
    return [k for k in have if k in c.held["top-prunable"] or k in c.held["site-prefix"]]


def _want_circuits(c: Push) -> dict[Key, Want]:
    return {
        s.circuit.cid: Want(
            {
                "cid": s.circuit.cid,
                "provider": c.ref("provider", s.circuit.provider),
                "type": c.cat["circuit-type"][CIRCUIT_TYPE],
                "commit_rate": s.circuit.commit_rate_mbps * 1000,
                "status": "active",
            },
            {**c.tags, "description": f"uplink of {s.slug}"},
        )
        for s in c.dep.sites
        if s.circuit
    }


def _want_terminations(c: Push) -> dict[Key, Want]:
    """A side on the site, Z side on the core network (never pruned on their own)."""
    out: dict[Key, Want] = {}
    core = c.dep.routing.core_name
    for s in c.dep.sites:
        if not s.circuit:
            continue
        cid = c.ref("circuit", s.circuit.cid)
        pid = c.ref("provider", s.circuit.provider)
        for side, ttype, tid in (
            ("A", "dcim.site", c.ref("site", s.slug)),
            ("Z", "circuits.providernetwork", c.ref("provider-network", (pid, core))),
        ):
            out[(s.circuit.cid, side)] = Want(
                {
                    "circuit": cid,
                    "term_side": side,
                    "termination_type": ttype,
                    "termination_id": tid,
                },
                c.tags,
            )
    return out


def _want_devices(c: Push) -> dict[Key, Want]:
    out: dict[Key, Want] = {}
    for s in c.dep.sites:
        names = [d.name for d in s.devices]
        pos = positions(names, _positions(c.held["device"], names))
        for d in s.devices:
            out[d.name] = Want(
                {
                    "name": d.name,
                    "site": c.ref("site", s.slug),
                    "location": c.ref("location", (s.slug, d.room)) if d.room else None,
                    "role": c.cat["device-role"][d.role],
                    "device_type": c.cat["device-type"][device_type_slug(d.role)],
                    "platform": c.cat["platform"][d.platform] if d.platform else None,
                    "custom_fields": {POSITION_FIELD: pos[d.name]},
                },
                {**c.tags, "status": "active"},
            )
    return out


def _want_interfaces(c: Push) -> dict[Key, Want]:
    """Every interface, `parent` left unset: sub-interfaces get it once parents exist."""
    out: dict[Key, Want] = {}
    for s in c.dep.sites:
        vids = {v.role: v.vid for v in c.dep.site_vlans(s)}
        for d in s.devices:
            keys = [(d.name, i.name) for i in d.interfaces]
            pos = positions(keys, _positions(c.held["interface"], keys))
            for i in d.interfaces:
                vlan = c.ref("vlan", (s.slug, vids[i.vlan])) if i.vlan in vids else None
                out[(d.name, i.name)] = Want(
                    {
                        "device": c.ref("device", d.name),
                        "name": i.name,
                        "type": "virtual" if i.parent else "1000base-t",
                        "parent": None,
                        "mgmt_only": i.mgmt_only,
                        "mode": "access" if vlan else None,
                        "untagged_vlan": vlan,
                        "custom_fields": {POSITION_FIELD: pos[(d.name, i.name)]},
                    },
                    {**c.tags, **_primary_mac_on_create(c, i.mac)},
                )
    return out


def _early_macs(c: Push) -> dict[Key, Key]:
    """MAC -> interface, for the interfaces this push creates whose MAC is free (not held, or
    held by nothing): these MACs are created first, unassigned, and each interface is created
    with `primary_mac_address` set, which NetBox's own signal turns into the MAC's assignment.
    That saves a second write (a PATCH) per new interface."""
    held_itf, held_mac = c.held["interface"], c.held["mac-address"]
    out: dict[Key, Key] = {}
    for _, d in c.dep.all_devices():
        for i in d.interfaces:
            key, mac = (d.name, i.name), (i.mac or "").lower()
            if not mac or key in held_itf:
                continue
            have = held_mac.get(mac)
            if have is None or have.fields["assigned_object_id"] is None:
                out[mac] = key
    return out


def _want_early_macs(c: Push) -> dict[Key, Want]:
    return {
        mac: Want(
            {"mac_address": mac, "assigned_object_type": None, "assigned_object_id": None}, c.tags
        )
        for mac in c.once("early-macs", _early_macs)
    }


def _primary_mac_on_create(c: Push, mac: str | None) -> dict[str, Any]:
    early = c.once("early-macs", _early_macs)
    if mac and mac.lower() in early:
        return {"primary_mac_address": c.ref("mac-address", mac.lower())}
    return {}


def _have_macs(c: Push) -> dict[Key, Have]:
    """MACs as held, the early ones assigned by now to the interface created with them."""
    out = dict(c.held["mac-address"])
    for mac, itf in c.once("early-macs", _early_macs).items():
        out[mac] = Have(
            c.ref("mac-address", mac),
            {
                "mac_address": mac,
                "assigned_object_type": "dcim.interface",
                "assigned_object_id": c.ref("interface", itf),
            },
        )
    return out


def _parent_of(c: Push) -> dict[Key, str | None]:
    return {(d.name, i.name): i.parent for _, d in c.dep.all_devices() for i in d.interfaces}


def _want_parent_interfaces(c: Push) -> dict[Key, Want]:
    parent_of = c.once("parent-of", _parent_of)
    every = c.once("interfaces", _want_interfaces)
    return {k: v for k, v in every.items() if not parent_of[k]}


def _want_sub_interfaces(c: Push) -> dict[Key, Want]:
    parent_of = c.once("parent-of", _parent_of)
    every = c.once("interfaces", _want_interfaces)
    out = {k: v for k, v in every.items() if parent_of[k]}
    for k, v in out.items():
        v.fields["parent"] = c.ref("interface", (k[0], parent_of[k]))
    return out


def _prune_interfaces(c: Push, have: dict[Key, Have]) -> Iterable[Key]:
    every = c.once("interfaces", _want_interfaces)
    return [k for k in have if k not in every]


def _want_macs(c: Push) -> dict[Key, Want]:
    out: dict[Key, Want] = {}
    for _, d in c.dep.all_devices():
        for i in d.interfaces:
            if i.mac:
                out[i.mac.lower()] = Want(
                    {
                        "mac_address": i.mac.lower(),
                        "assigned_object_type": "dcim.interface",
                        "assigned_object_id": c.ref("interface", (d.name, i.name)),
                    },
                    c.tags,
                )
    return out


def _want_ips(c: Push) -> dict[Key, Want]:
    out: dict[Key, Want] = {}
    for _, d in c.dep.all_devices():
        for i in d.interfaces:
            if i.address is not None:
                out[str(i.address.ip)] = Want(
                    {
                        "address": str(i.address),
                        "status": "active",
                        "assigned_object_type": "dcim.interface",
                        "assigned_object_id": c.ref("interface", (d.name, i.name)),
                    },
                    c.tags,
                )
    return out


def _release(
    pointer: str, kind: str, want: Callable[[Push], dict[Key, Want]], held_as: str
) -> Callable[[Push], dict[Key, Want]]:
    """NetBox refuses to move an address that is still some object's primary: unset those first."""

    def wanted(c: Push) -> dict[Key, Want]:
        wanted_addr = c.once(kind, want)
        have = c.held[kind]
        moving = {
            h.id
            for k, h in have.items()
            if k not in wanted_addr
            or wanted_addr[k].fields["assigned_object_id"] != h.fields["assigned_object_id"]
        }
        owners = c.held[held_as]
        return {o: Want({pointer: None}) for o, h in owners.items() if h.fields[pointer] in moving}

    return wanted


def _want_primary_macs(c: Push) -> dict[Key, Want]:
    return {
        (d.name, i.name): Want({"primary_mac_address": c.ref("mac-address", i.mac.lower())})
        for _, d in c.dep.all_devices()
        for i in d.interfaces
        if i.mac
    }


def _want_primary_ips(c: Push) -> dict[Key, Want]:
    return {
        d.name: Want({"primary_ip4": c.ref("ip-address", str(d.primary_address.ip))})
        for _, d in c.dep.all_devices()
        if d.primary_address is not None
    }


def _pointers(
    kind: str, held_as: str, pointer: str, want: Callable[[Push], dict[Key, Want]]
) -> Callable[[Push], dict[Key, Have]]:
    """The pointers as held (released ones are None by now); objects created in this push
    point at nothing yet."""

    def current(c: Push) -> dict[Key, Have]:
        have = c.held[held_as]
        wanted = want(c)
        set_on_create = set()
        if held_as == "primary-mac":
            set_on_create = set(c.once("early-macs", _early_macs).values())
        return {
            k: have.get(k)
            or Have(
                c.ref(kind, k), {pointer: wanted[k].fields[pointer] if k in set_on_create else None}
            )
            for k in wanted
        }

    return current


def _by(field: str) -> Callable[[dict[str, Any]], Any]:
    """Sort key for bulk bodies by the parent they lock (ids; placeholders sort last)."""
    return lambda b: (
        (0, b[field], "") if isinstance(b.get(field), int) else (1, 0, str(b.get(field)))
    )


# The push, row by row: the order of the table is the order of the writes.
SPECS: tuple[Spec, ...] = (
    Spec("region", "dcim/regions", _want_region, _held_as("region")),
    Spec("config-context", "extras/config-contexts", _want_context, _held_as("config-context")),
    Spec("prefix", "ipam/prefixes", _want_supernets, _have_supernets,
         prune=lambda c, _: _held_supernets(c)),
    Spec("provider", "circuits/providers", _want_providers, _held_as("provider")),
    Spec("provider-network", "circuits/provider-networks", _want_provider_networks,
         _held_as("provider-network"), label=lambda k: f"{k[1]}"),
    Spec("site", "dcim/sites", _want_sites, _held_as("site")),
    Spec("location", "dcim/locations", _want_locations, _held_as("location"), prune=_all),
    Spec("vlan-group", "ipam/vlan-groups", _want_vlan_groups, _held_as("vlan-group"), prune=_all),
    Spec("vlan", "ipam/vlans", _want_vlans, _held_as("vlan"), prune=_all),
    Spec("prefix", "ipam/prefixes", _want_site_prefixes, _have_site_prefixes,
         prune=_prune_site_prefixes),
    Spec("circuit", "circuits/circuits", _want_circuits, _held_as("circuit"), prune=_all),
    Spec("circuit-termination", "circuits/circuit-terminations", _want_terminations,
         _held_as("circuit-termination")),
    # Devices count into their type: concurrent chunks sorted by type cannot deadlock.
    Spec("device", "dcim/devices", _want_devices, _held_as("device"), prune=_all,
         lock_order=lambda b: (b.get("device_type") or 0, b.get("name") or "")),
    # MACs of new interfaces, unassigned: the interfaces are created pointing at them.
    Spec("mac-address", "dcim/mac-addresses", _want_early_macs, _held_as("mac-address"),
         lock_order=_by("mac_address")),
    Spec("interface", "dcim/interfaces", _want_parent_interfaces, _held_as("interface"),
         lock_order=_by("device")),
    # A parent cannot go before its sub-interfaces.
    Spec("interface", "dcim/interfaces", _want_sub_interfaces, _held_as("interface"),
         prune=_prune_interfaces, lock_order=_by("device"),
         prune_order=lambda h: h.fields.get("parent") is None),
    Spec("interface", "dcim/interfaces",
         _release("primary_mac_address", "mac-address", _want_macs, "primary-mac"),
         _held_as("primary-mac"), update_only=True, quiet=True),
    Spec("device", "dcim/devices",
         _release("primary_ip4", "ip-address", _want_ips, "primary-ip"),
         _held_as("primary-ip"), update_only=True, quiet=True),
    Spec("mac-address", "dcim/mac-addresses", lambda c: c.once("mac-address", _want_macs),
         _have_macs, prune=_all, lock_order=_by("assigned_object_id")),
    Spec("ip-address", "ipam/ip-addresses", lambda c: c.once("ip-address", _want_ips),
         _held_as("ip-address"), prune=_all, lock_order=_by("assigned_object_id")),
    # Pointers, once both ends exist: each interface's primary MAC, each device's primary IP.
    Spec("interface", "dcim/interfaces", _want_primary_macs,
         _pointers("interface", "primary-mac", "primary_mac_address", _want_primary_macs),
         update_only=True, lock_order=_by("id")),
    Spec("device", "dcim/devices", _want_primary_ips,
         _pointers("device", "primary-ip", "primary_ip4", _want_primary_ips),
         update_only=True, lock_order=_by("id")),
)  # fmt: skip


def push(
    client: Client,
    snap: Snapshot,
    dep: Departement,
    dry_run: bool,
    progress: Progress | None = None,
) -> ChangeReport:
    """Make NetBox hold `dep` (already validated); sites not in `dep` are left alone."""
    pushed = {s.slug for s in dep.sites}
    c = Push(dep, snap, Writer(client, dry_run, progress), held(snap, pushed))
    for spec in SPECS:
        have = spec.current(c)
        c.w.sync(spec, spec.wanted(c), have, spec.prune(c, have) if spec.prune else ())
    c.w.delete_stale()
    return c.w.report()


def _positions(have: dict[Key, Have], keys: list[Key]) -> dict[Key, Any]:
    return {k: have[k].fields["custom_fields"].get(POSITION_FIELD) for k in keys if k in have}


def _role_of(h: Have, cat: dict[str, dict[str, int]]) -> str | None:
    return next((slug for slug, i in cat["role"].items() if i == h.fields.get("role")), None)
