"""What preau needs in NetBox before it can hold a département, and `setup` to create it.

Custom fields, roles, platforms, device types, the `preau` tag, the circuit type, the
provider, and the export templates preau reads through (`netbox_export`). `setup` is
idempotent: it creates what is missing, corrects what drifted (only the fields listed here) and
a second run changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preau.model import DEVICE_ROLES, VLAN_ROLES
from preau.model.departement import PLATFORMS
from preau.sot import ChangeReport, netbox_export
from preau.sot.netbox_client import Client

TAG = "preau"
PROVIDER = "THD Seine"
CIRCUIT_TYPE = "fibre-uplink"
MANUFACTURER = "generic"

# Prefix roles besides the VLAN roles (which are also ipam roles, shared by VLANs and prefixes).
COLLEGE_CONTAINER = "college-container"
SITE_CONTAINER = "site-container"
UPLINK = "uplink"
SUPERNET_ROLES = {
    "colleges": "supernet-colleges",
    "datacentre": "supernet-datacentre",
    "uplinks": "supernet-uplinks",
}
PREFIX_ROLES = (COLLEGE_CONTAINER, SITE_CONTAINER, UPLINK, *SUPERNET_ROLES.values())

# Site custom fields hold what NetBox has no field for; `preau_position` keeps the model's order
# of rooms, devices and interfaces (NetBox sorts by name, and the round trip must be exact).
SITE_FIELDS = {
    "uai": ("text", "UAI", "Code UAI of the collège (7 digits + check letter)"),
    "pupils": ("integer", "Pupils", "Number of pupils"),
    "commune": ("text", "Commune", "Commune of the site"),
    "asn": ("integer", "ASN", "BGP AS number of the site router"),
    "preau_kind": ("text", "preau kind", "college or datacentre"),
    "directory": (
        "text",
        "Directory",
        "Where the collège's accounts live: standalone (its file server's own) or ad (its AD "
        "domain, the file server its DC)",
    ),
}
# Location (room) custom fields: the PC image the room's PCs boot (College.room_images).
PC_IMAGE_FIELD = "pc_image"
LOCATION_FIELDS = {
    PC_IMAGE_FIELD: (
        "text",
        "PC image",
        "The PC image (preau's images/<name>/) this room's PCs boot from the network; empty: the "
        "app server's default",
    ),
}
POSITION_FIELD = "preau_position"
POSITION_TYPES = ("dcim.location", "dcim.device", "dcim.interface")

_COLORS = ("2196f3", "4caf50", "ff9800", "9c27b0", "607d8b", "795548", "f44336", "00bcd4")


def _title(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


@dataclass(frozen=True)
class Wanted:
    """One object setup needs: where it lives, its natural key and the fields preau owns."""

    path: str
    key: str  # field that identifies it: slug or name
    fields: dict[str, Any]

    @property
    def ident(self) -> Any:
        return self.fields[self.key]


def wanted(tag_id: int | None = None) -> list[Wanted]:
    """Everything setup creates, in dependency order (the tag first, device types last)."""
    tags = [tag_id] if tag_id is not None else []
    out = [
        Wanted(
            "extras/tags",
            "slug",
            {
                "name": TAG,
                "slug": TAG,
                "color": "9e9e9e",
                "description": "Managed by preau: changed by `preau sot push`",
            },
        )
    ]
    fields = [(f, "dcim.site") for f in SITE_FIELDS.items()]
    fields += [(f, "dcim.location") for f in LOCATION_FIELDS.items()]
    for (name, (kind, label, desc)), object_type in fields:
        out.append(
            Wanted(
                "extras/custom-fields",
                "name",
                {
                    "name": name,
                    "type": kind,
                    "label": label,
                    "description": desc,
                    "group_name": "preau",
                    "object_types": [object_type],
                },
            )
        )
    out.append(
        Wanted(
            "extras/custom-fields",
            "name",
            {
                "name": POSITION_FIELD,
                "type": "integer",
                "label": "preau position",
                "description": "Order of this object in the preau model",
                "group_name": "preau",
                "object_types": list(POSITION_TYPES),
            },
        )
    )
    for i, role in enumerate((*VLAN_ROLES, *PREFIX_ROLES)):
        out.append(
            Wanted(
                "ipam/roles",
                "slug",
                {"name": _title(role), "slug": role, "weight": 1000 + 10 * i, "tags": tags},
            )
        )
    for i, role in enumerate(DEVICE_ROLES):
        out.append(
            Wanted(
                "dcim/device-roles",
                "slug",
                {
                    "name": _title(role),
                    "slug": role,
                    "color": _COLORS[i % len(_COLORS)],
                    "vm_role": False,
                    "tags": tags,
                },
            )
        )
    for platform in PLATFORMS:
        out.append(
            Wanted("dcim/platforms", "slug", {"name": platform, "slug": platform, "tags": tags})
        )
    out.append(
        Wanted(
            "dcim/manufacturers", "slug", {"name": "Generic", "slug": MANUFACTURER, "tags": tags}
        )
    )
    out.append(
        Wanted(
            "circuits/circuit-types",
            "slug",
            {"name": "Fibre uplink", "slug": CIRCUIT_TYPE, "tags": tags},
        )
    )
    out.append(
        Wanted("circuits/providers", "slug", {"name": PROVIDER, "slug": "thd-seine", "tags": tags})
    )
    out += [
        Wanted("extras/export-templates", "name", kind.setup_fields())
        for kind in netbox_export.KINDS
    ]
    return out


def device_type_slug(role: str) -> str:
    return f"generic-{role}"


def _device_types(manufacturer_id: int, tags: list[int]) -> list[Wanted]:
    return [
        Wanted(
            "dcim/device-types",
            "slug",
            {
                "manufacturer": manufacturer_id,
                "model": f"Generic {role}",
                "slug": device_type_slug(role),
                "u_height": 0,
                "tags": tags,
            },
        )
        for role in DEVICE_ROLES
    ]


def _norm(value: Any) -> Any:
    """A field as NetBox returns it, reduced to what we send (ids, slugs, sorted lists)."""
    if isinstance(value, dict):
        if "value" in value and "label" in value:  # choice fields
            return value["value"]
        if "id" in value:
            return value["id"]
        return value
    if isinstance(value, list):
        return sorted(_norm(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _drift(want: dict[str, Any], have: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in want.items():
        if k == "tags":
            continue  # only added on create: people may tag setup objects as they like
        expected = sorted(v) if isinstance(v, list) else v
        if _norm(have.get(k)) != expected:
            out[k] = v
    return out


def _ensure(
    client: Client, items: list[Wanted], report: ChangeReport, dry_run: bool
) -> dict[str, int]:
    """Create or correct `items` (all on one endpoint); returns natural key -> id."""
    path, key = items[0].path, items[0].key
    have = {str(o[key]): o for o in client.all(path)}
    ids = {k: int(o["id"]) for k, o in have.items()}
    kind = path.split("/")[1].rstrip("s")
    creates, updates = [], []
    for w in items:
        cur = have.get(str(w.ident))
        if cur is None:
            creates.append(w.fields)
            report.add("create", kind, str(w.ident))
        else:
            drift = _drift(w.fields, cur)
            if drift:
                updates.append({"id": cur["id"], **drift})
                report.add("update", kind, f"{w.ident} ({', '.join(sorted(drift))})")
    if not dry_run:
        for obj in client.create(path, creates) if creates else []:
            ids[str(obj[key])] = int(obj["id"])
        if updates:
            client.update(path, updates)
    return ids


def setup(client: Client, *, dry_run: bool = False) -> ChangeReport:
    """Create what preau needs in NetBox; a second run reports no change."""
    report = ChangeReport(dry_run=dry_run)
    base = wanted()
    tag_ids = _ensure(client, base[:1], report, dry_run)
    tags = [tag_ids[TAG]] if TAG in tag_ids else []
    items = wanted(tags[0] if tags else None)[1:]
    by_path: dict[str, list[Wanted]] = {}
    for w in items:
        by_path.setdefault(w.path, []).append(w)
    ids: dict[str, dict[str, int]] = {}
    for path, group in by_path.items():
        ids[path] = _ensure(client, group, report, dry_run)
    manufacturer = ids["dcim/manufacturers"].get(MANUFACTURER)
    # In a dry run on an empty NetBox the manufacturer does not exist yet: every type is new.
    _ensure(client, _device_types(manufacturer or 0, tags), report, dry_run)
    return report


def missing_setup(client: Client) -> list[str]:
    """What `preau netbox setup` would have created and is absent (one call)."""
    names = [*SITE_FIELDS, *LOCATION_FIELDS, POSITION_FIELD]
    found = client.get(
        "extras/custom-fields/", {"name": names, "limit": 100, "brief": 1}, "checking the setup"
    )
    present = {r["name"] for r in found.get("results", [])}
    return [n for n in names if n not in present]
