"""Runs inside NetBox's own interpreter (`python -m netbox shell -c`), called by run.py.

For each kind preau writes most of (device, interface, MAC address, IP address), one bulk POST
of N objects goes through NetBox's REST API in process (Django's test client: NetBox's
serializers, validation, save() and signal handlers, but no HTTP and no gunicorn), inside a
transaction that is rolled back: the NetBox is left as it was. It prints one JSON document:
per kind, ms and SQL queries per object, and for devices where the time goes (cProfile's
cumulative time of NetBox's own steps, in a second, profiled, run).
"""

import cProfile
import json
import os
import pstats
import time
from typing import Any

from dcim.models import DeviceRole, DeviceType, Manufacturer, Site
from django.db import connection, transaction
from extras.models import Tag
from ipam.models import VRF
from rest_framework.test import APIClient
from users.models import User

N = int(os.environ.get("BENCH_N", "100"))
TAGS = {"tags": [{"slug": "bench-tag"}]}

# NetBox's steps in a device create, by the function that runs each (outermost call counts).
STEPS = {
    "validation (serializer + full_clean)": ("rest_framework/serializers.py", "is_valid"),
    "components from the device type's templates": (
        "dcim/models/devices.py",
        "_instantiate_components",
    ),
    "change log (ObjectChange)": ("core/signals.py", "handle_changed_object"),
    "search index (CachedValue)": ("netbox/search/backends.py", "caching_handler"),
    "response serializer": ("rest_framework/serializers.py", "data"),
}


class Rollback(Exception):
    pass


class Counter:
    """Counts SQL statements (Django's query log keeps only the last 9,000)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.n += 1
        return execute(sql, params, many, context)


def post(
    client: APIClient, path: str, bodies: list[dict[str, Any]]
) -> tuple[list[Any], float, int]:
    queries = Counter()
    with connection.execute_wrapper(queries):
        start = time.perf_counter()
        response = client.post(path, bodies, format="json")
        seconds = time.perf_counter() - start
    if response.status_code != 201:
        raise SystemExit(
            f"{path}: {response.status_code} {str(getattr(response, 'data', ''))[:300]}"
        )
    return list(response.data), seconds, queries.n


def run(profile: bool) -> dict[str, Any]:
    user = User.objects.filter(is_superuser=True).first()
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.force_authenticate(user)
    client.get("/api/status/")  # URLconf and GraphQL schema import: not part of a write
    out: dict[str, Any] = {}
    try:
        with transaction.atomic():
            site = Site.objects.create(name="bench-site", slug="bench-site")
            maker = Manufacturer.objects.create(name="bench-maker", slug="bench-maker")
            kind = DeviceType.objects.create(manufacturer=maker, model="bench-pc", slug="bench-pc")
            role = DeviceRole.objects.create(name="bench-role", slug="bench-role")
            Tag.objects.create(name="bench-tag", slug="bench-tag")  # preau tags what it owns
            vrf = VRF.objects.create(name="bench-vrf")  # the département's own addresses are taken
            warm = [{"name": "warm", "site": site.id, "device_type": kind.id, "role": role.id}]
            post(client, "/api/dcim/devices/", warm)
            devices_body = [
                {
                    "name": f"bench-{i}",
                    "site": site.id,
                    "device_type": kind.id,
                    "role": role.id,
                    **TAGS,
                }
                for i in range(N)
            ]
            profiler = cProfile.Profile() if profile else None
            if profiler:
                profiler.enable()
            devices, s, q = post(client, "/api/dcim/devices/", devices_body)
            if profiler:
                profiler.disable()
                out["device_steps_ms_per_object"] = steps(profiler)
                raise Rollback
            out["device"] = {"ms": 1000 * s / N, "queries": q / N}
            ifaces, s, q = post(client, "/api/dcim/interfaces/", [
                {"device": d["id"], "name": "eth0", "type": "1000base-t", **TAGS} for d in devices
            ])  # fmt: skip
            out["interface"] = {"ms": 1000 * s / N, "queries": q / N}
            _, s, q = post(client, "/api/dcim/mac-addresses/", [
                {"mac_address": f"02:00:00:00:{i // 256:02x}:{i % 256:02x}",
                 "assigned_object_type": "dcim.interface", "assigned_object_id": x["id"], **TAGS}
                for i, x in enumerate(ifaces)
            ])  # fmt: skip
            out["mac-address"] = {"ms": 1000 * s / N, "queries": q / N}
            ips, s, q = post(client, "/api/ipam/ip-addresses/", [
                {"address": f"198.18.{i // 250}.{i % 250 + 1}/16",
                 "vrf": vrf.id, "assigned_object_type": "dcim.interface",
                 "assigned_object_id": x["id"], **TAGS}
                for i, x in enumerate(ifaces)
            ])  # fmt: skip
            out["ip-address"] = {"ms": 1000 * s / N, "queries": q / N}
            queries = Counter()
            with connection.execute_wrapper(queries):
                start = time.perf_counter()
                response = client.patch("/api/dcim/devices/", [
                    {"id": d["id"], "primary_ip4": ip["id"]}
                    for d, ip in zip(devices, ips, strict=True)
                ], format="json")  # fmt: skip
                s = time.perf_counter() - start
            if response.status_code != 200:
                raise SystemExit(f"primary IP: {response.status_code} {str(response.data)[:300]}")
            out["device-primary-ip"] = {
                "ms": 1000 * s / N,
                "queries": queries.n / N,
            }
            raise Rollback
    except Rollback:
        pass
    return out


def steps(profiler: cProfile.Profile) -> dict[str, float]:
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = max(ct for (_, _, _), (_, _, _, ct, _) in stats.items())
    found = {"total (profiled)": total}
    for label, (path, name) in STEPS.items():
        cums = [
            ct for (f, _, fn), (_, _, _, ct, _) in stats.items() if f.endswith(path) and fn == name
        ]
        found[label] = max(cums, default=0.0)
    return {k: round(1000 * v / N, 1) for k, v in found.items()}


result = {"objects_per_kind": N, **run(profile=False), **run(profile=True)}
for value in result.values():
    if isinstance(value, dict) and "ms" in value:
        value["ms"], value["queries"] = round(value["ms"], 1), round(value["queries"], 1)
print("BENCH-JSON " + json.dumps(result))
