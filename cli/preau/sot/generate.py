"""A synthetic département for benchmarks, scale tests and the demo.

Deterministic: the same arguments give the same département, byte for byte once dumped.
"""

from __future__ import annotations

import math
import random

from netaddr import IPAddress, IPNetwork

from preau.model import Departement, Routing, Services, Supernets, VlanPlanEntry
from preau.model.addressing import next_free_prefix
from preau.model.uai import make_uai
from preau.sot.layout import CollegeSpec, college_layout, datacentre_layout, next_college_resources

# The département-wide plan: VIDs and sizes every collège shares (fits a /22 per collège).
DEFAULT_PLAN = (
    VlanPlanEntry(role="admin", vid=10, name="ADMINISTRATION", prefix_length=26),
    VlanPlanEntry(role="teaching", vid=20, name="PEDAGOGIE", prefix_length=24),
    VlanPlanEntry(role="wifi", vid=30, name="WIFI", prefix_length=24),
    VlanPlanEntry(role="printers", vid=40, name="IMPRESSION-AV", prefix_length=26),
    VlanPlanEntry(role="servers", vid=50, name="SERVEURS", prefix_length=27),
    VlanPlanEntry(role="management", vid=99, name="GESTION", prefix_length=27),
)

COMMUNES = (
    "Nanterre", "Antony", "Boulogne-Billancourt", "Colombes", "Asnières-sur-Seine",
    "Courbevoie", "Rueil-Malmaison", "Issy-les-Moulineaux", "Levallois-Perret", "Clamart",
    "Clichy", "Montrouge", "Suresnes", "Meudon", "Puteaux", "Gennevilliers", "Bagneux",
    "Châtillon", "Malakoff", "Sceaux",
)  # fmt: skip
NAMES = (
    "Victor Hugo", "Jean Moulin", "Marie Curie", "Jules Ferry", "Paul Éluard", "Louise Michel",
    "Jean Jaurès", "Albert Camus", "Henri Matisse", "Simone Veil", "Pablo Picasso",
    "Jacques Prévert", "Romain Rolland", "Évariste Galois", "Anatole France",
)  # fmt: skip


def base_departement(
    slug: str = "demo-92", name: str = "Département de démonstration"
) -> Departement:
    """Defaults, supernets and VLAN plan, with no site yet (test ranges only)."""
    return Departement(
        slug=slug,
        name=name,
        supernets=Supernets(
            colleges=IPNetwork("198.18.0.0/15"),
            datacentre=IPNetwork("100.80.0.0/16"),
            uplinks=IPNetwork("100.64.0.0/16"),
        ),
        services=Services(
            domain="enc.test",
            dns=(IPAddress("100.80.0.1"),),
            ntp=(IPAddress("100.80.0.1"),),
            proxy=None,
        ),
        routing=Routing(protocol="bgp", core_asn=64600),
        vlan_plan=DEFAULT_PLAN,
        college_prefix_length=22,
    )


def with_datacentre(dep: Departement, app_hosts: int = 2) -> Departement:
    container = next_free_prefix(dep.supernets.datacentre, [], 24)
    uplink = next_free_prefix(
        dep.supernets.uplinks, [s.circuit.uplink for s in dep.sites if s.circuit], 31
    )
    dc = datacentre_layout(
        dep,
        "dc-nanterre",
        "Data centre ENC (Nanterre)",
        "Nanterre",
        container,
        uplink,
        64700,
        app_hosts,
    )
    return Departement(**{**dep.__dict__, "datacentre": dc})


def add_college(dep: Departement, spec: CollegeSpec) -> Departement:
    """The département with one more collège, allocated locally."""
    container, uplink, asn = next_college_resources(dep)
    college = college_layout(dep, spec, container, uplink, asn)
    return Departement(**{**dep.__dict__, "colleges": (*dep.colleges, college)})


def college_spec(index: int, rng: random.Random, **sizes: int) -> CollegeSpec:
    name = NAMES[index % len(NAMES)]
    commune = COMMUNES[index % len(COMMUNES)]
    cycle = index // math.lcm(len(NAMES), len(COMMUNES))
    # 0929xxx: UAI numbers in the Hauts-de-Seine range that real collèges do not use.
    uai = make_uai(929000 + index)
    return CollegeSpec(
        slug=f"clg-{uai.lower()}",
        uai=uai,
        # Names and communes cycle; a second pass through the same pair gets a number, because
        # NetBox (like a person reading a list) needs every site name to be unique.
        name=f"Collège {name} ({commune})" + (f" {cycle + 1}" if cycle else ""),
        commune=commune,
        pupils=rng.randrange(350, 900, 10),
        **sizes,  # type: ignore[arg-type]
    )


def generate(colleges: int, seed: int = 92, **sizes: int) -> Departement:
    """A département with a data centre and `colleges` collèges of ~60 devices each."""
    rng = random.Random(seed)
    dep = with_datacentre(base_departement())
    for i in range(colleges):
        dep = add_college(dep, college_spec(i + 1, rng, **sizes))
    return dep
