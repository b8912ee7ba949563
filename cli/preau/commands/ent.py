"""`preau ent ...`: the ENT portal stack: status, scale, autoscale, load tests, lab stack."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from preau.commands.options import DryRun, InventoryPath, Json, Source
from preau.ent.journal import DEFAULT as DEFAULT_LOG
from preau.errors import BadInput

if TYPE_CHECKING:
    from preau.ent.uplink import Uplink

app = typer.Typer(no_args_is_help=True)
lab_app = typer.Typer(no_args_is_help=True)
app.add_typer(lab_app, name="lab", help="The lab ENT stack (the role's molecule scenario).")

RuntimeOpt = Annotated[
    str | None,
    typer.Option(
        "--runtime",
        envvar="PREAU_ENT_RUNTIME",
        help=(
            "HAProxy runtime API: tcp:HOST:PORT or unix:/path, comma-separated for a pair "
            "(default: the lab stack)."
        ),
    ),
]
HostsOpt = Annotated[
    str, typer.Option("--hosts", help="Reach app hosts: auto (lab containers, else ssh), lab, ssh.")
]
BackendOpt = Annotated[str, typer.Option("--backend", help="HAProxy backend of the portal.")]
StackOpt = Annotated[
    str, typer.Option("--stack", help="Lab stack: default (capacity tests), ha (parts paired).")
]
LogOpt = Annotated[Path, typer.Option("--log", help="JSON lines journal of decisions.")]
UplinkOpt = Annotated[
    bool,
    typer.Option(
        "--uplink/--no-uplink",
        help="Change the data-centre uplink with the load (as preau net bandwidth).",
    ),
]
SiteOpt = Annotated[
    str | None, typer.Option("--site", help="Site whose uplink follows (default: the data centre).")
]
UplinkTarget = Annotated[
    str, typer.Option("--uplink-target", help="Where the DC router is: auto, lab or ssh.")
]


def _uplink(
    enabled: bool, source: str | None, path: Path | None, site: str | None, where: str
) -> Uplink:
    from preau.ent.uplink import FixedUplink, NetUplink

    if enabled:
        import preau.lab  # noqa: F401 - registers the twin's routers as a deploy target
    return NetUplink(source, path, site, where) if enabled else FixedUplink()


@app.command("status")
def status(
    runtime: RuntimeOpt = None,
    hosts: HostsOpt = "auto",
    backend: BackendOpt = "portal",
    stack: StackOpt = "default",
    json: Json = False,
) -> None:
    """The portal's instance slots as HAProxy sees them, and who leads each paired part."""
    from rich.table import Table

    from preau.ent import parts, target
    from preau.output import console, print_json

    t = target.resolve(runtime, hosts, stack)
    servers = t.runtime.servers(backend)
    # the hosts to ask: the lab's containers (SSH has no host list without the inventory)
    known = getattr(t.hosts, "containers", {})
    found = parts.survey(t.hosts, known) if known else []
    if json:
        print_json(
            {
                "backend": backend,
                "servers": [s.__dict__ | {"enabled": s.enabled} for s in servers],
                "parts": [part.as_dict() for part in found],
            }
        )
        return
    table = Table(title=f"backend {backend} at {t.runtime.address}")
    for col in ("slot", "address", "status", "sessions", "requests", "5xx"):
        table.add_column(col)
    for s in servers:
        style = "green" if s.up else ("dim" if not s.enabled else "red")
        table.add_row(
            s.name, s.addr, f"[{style}]{s.status}[/]", str(s.scur), str(s.req_tot), str(s.hrsp_5xx)
        )
    console.print(table)
    console.print(
        f"{sum(s.enabled for s in servers)} instance(s) enabled, "
        f"{sum(s.up for s in servers)} UP, {len(servers)} slots"
    )
    if found:
        names = dict(known)
        leaders = Table(title="paired parts")
        for col in ("part", "leader", "others", "state", "behind"):
            leaders.add_column(col)
        for part in found:
            leader = names.get(part.leader or "", part.leader or "[red]none[/]")
            for i, follower in enumerate(part.followers or [parts.Follower("-", "-", "-")]):
                leaders.add_row(
                    part.part if i == 0 else "",
                    leader if i == 0 else "",
                    names.get(follower.host, follower.host),
                    follower.state,
                    follower.lag,
                )
        console.print(leaders)


@app.command("scale")
def scale(
    instances: Annotated[int, typer.Option("--instances", "-n", help="Instances wanted.")],
    dry_run: DryRun = False,
    runtime: RuntimeOpt = None,
    hosts: HostsOpt = "auto",
    backend: BackendOpt = "portal",
    stack: StackOpt = "default",
    log: LogOpt = DEFAULT_LOG,
) -> None:
    """Start or stop instances and (de)register them in HAProxy, without a reload."""
    from preau.ent import scaler, target
    from preau.ent.journal import Journal
    from preau.ent.uplink import FixedUplink
    from preau.output import console

    t = target.resolve(runtime, hosts, stack)
    journal = Journal(log)
    t.runtime.say = journal.say  # a load balancer that missed a change, in the same journal
    sc = scaler.Scaler(t.runtime, t.hosts, FixedUplink(), backend, say=journal.say)
    for fix in sc.reconcile(dry_run):  # a load balancer that missed changes, first
        verb = "would bring" if dry_run else "brought"
        console.print(f"{verb} {fix.balancer} in line: {fix.slot} {fix.was} -> {fix.now}")
    p = scaler.plan(sc.servers(), instances)
    if not p.changes:
        console.print(f"[green]{p.current} instance(s) enabled: nothing to change[/]")
        return
    verb = "would" if dry_run else "will"
    console.print(f"{p.current} -> {p.target} instance(s); {verb}:")
    for line in p.describe():
        console.print(f"  - {line}")
    journal.write(
        "scale",
        action="out" if p.target > p.current else "in",
        instances=p.current,
        to=p.target,
        dry_run=dry_run,
        reason=f"preau ent scale --instances {instances}",
    )
    if dry_run:
        return
    sc.apply(p)
    console.print(f"[green]{p.target} instance(s) enabled and UP[/]")


@app.command("autoscale")
def autoscale(
    once: Annotated[
        bool, typer.Option("--once", help="One decision (two samples), then exit.")
    ] = False,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between samples.")] = 2.0,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after S seconds.")
    ] = None,
    min_instances: Annotated[int, typer.Option("--min")] = 1,
    max_instances: Annotated[int, typer.Option("--max")] = 8,
    target_rps: Annotated[float, typer.Option("--target-rps", help="Req/s per instance.")] = 40.0,
    scale_in_ratio: Annotated[float, typer.Option("--scale-in-ratio")] = 0.7,
    cooldown_out: Annotated[float, typer.Option("--cooldown-out")] = 5.0,
    cooldown_in: Annotated[float, typer.Option("--cooldown-in")] = 30.0,
    baseline_rps: Annotated[
        float | None,
        typer.Option(
            "--baseline-rps", help="Load the base uplink rate was sized for (uplink follows load)."
        ),
    ] = None,
    uplink_max: Annotated[int | None, typer.Option("--uplink-max", help="Mbit/s ceiling.")] = None,
    uplink: UplinkOpt = False,
    site: SiteOpt = None,
    uplink_target: UplinkTarget = "auto",
    dry_run: DryRun = False,
    runtime: RuntimeOpt = None,
    hosts: HostsOpt = "auto",
    backend: BackendOpt = "portal",
    stack: StackOpt = "default",
    log: LogOpt = DEFAULT_LOG,
    source: Source = None,
    path: InventoryPath = None,
) -> None:
    """Follow the load: add or remove instances (and uplink bandwidth), logging each decision."""
    from preau.ent import controller, scaler, target
    from preau.ent.autoscale import Loop
    from preau.ent.journal import Journal
    from preau.output import console

    link = _uplink(uplink, source, path, site, uplink_target)
    base = link.current() if uplink else 0
    policy = controller.Policy(
        min_instances=min_instances,
        max_instances=max_instances,
        target_rps=target_rps,
        scale_in_ratio=scale_in_ratio,
        cooldown_out_s=cooldown_out,
        cooldown_in_s=cooldown_in,
        baseline_rps=baseline_rps if uplink else None,
        uplink_base_mbps=base or 1,
        uplink_max_mbps=uplink_max or max(base * 4, 1),
    ).check()
    t = target.resolve(runtime, hosts, stack)
    journal = Journal(log)
    t.runtime.say = journal.say  # a load balancer that missed a change, in the same journal
    sc = scaler.Scaler(t.runtime, t.hosts, link, backend, say=journal.say)
    loop = Loop(sc, policy, journal, dry_run=dry_run, manage_uplink=uplink)
    try:
        loop.run(interval, once=once, duration=duration)
    except KeyboardInterrupt:
        console.print("[dim]stopped[/]")


@app.command("load")
def load(
    profile: Annotated[
        str, typer.Option("--profile", help="smoke, peak, peak-2x, drill, peak-4x.")
    ],
    report: Annotated[
        Path, typer.Option("--report", help="Folder for report.md, JSON, PNGs.")
    ] = Path("build/ent-report"),
    url: Annotated[
        str | None, typer.Option("--url", help="Portal URL (default: the lab LB).")
    ] = None,
    autoscale: Annotated[
        bool, typer.Option("--autoscale/--no-autoscale", help="Run the controller meanwhile.")
    ] = True,
    min_instances: Annotated[int, typer.Option("--min")] = 1,
    max_instances: Annotated[int, typer.Option("--max")] = 8,
    target_rps: Annotated[float, typer.Option("--target-rps", help="Req/s per instance.")] = 40.0,
    cooldown_in: Annotated[float, typer.Option("--cooldown-in")] = 15.0,
    start_instances: Annotated[
        int | None, typer.Option("--start-instances", help="Scale to N before the run.")
    ] = None,
    uplink: UplinkOpt = False,
    uplink_max: Annotated[int | None, typer.Option("--uplink-max", help="Mbit/s ceiling.")] = None,
    kill: Annotated[
        list[str] | None,
        typer.Option(
            "--kill",
            help="SECONDS:PART, repeatable: SIGKILL the leader of PART (load, database, "
            "sessions, app) that second into the run; marked on the report's plots.",
        ),
    ] = None,
    site: SiteOpt = None,
    uplink_target: UplinkTarget = "auto",
    runtime: RuntimeOpt = None,
    hosts: HostsOpt = "auto",
    backend: BackendOpt = "portal",
    stack: StackOpt = "default",
    log: LogOpt = DEFAULT_LOG,
    source: Source = None,
    path: InventoryPath = None,
) -> None:
    """Play a traffic profile from the seeds against the portal; write a report with plots.

    With --uplink the controller also follows the load on the data centre's uplink (base rate
    sized for the profile's peak, doubled per doubling of the load), as `preau net bandwidth`.
    With --kill it is a game day: the part's leader crashes on that second (systemd restarts
    it, its pair takes over meanwhile), and the report shows what the pupils saw.
    """
    import threading

    from preau.ent import controller, faults, scaler, target
    from preau.ent import load as harness
    from preau.ent import report as reporting
    from preau.ent.autoscale import Loop
    from preau.ent.journal import Journal
    from preau.ent.traffic import PROFILES, Traffic
    from preau.output import console

    if profile not in PROFILES:
        raise BadInput(f"--profile {profile}: unknown (known: {', '.join(PROFILES)})")
    prof, traffic = PROFILES[profile], Traffic()
    kills = [faults.Kill.parse(spec, prof.duration_s) for spec in kill or []]
    t = target.resolve(runtime, hosts, stack)
    page = harness.check_url(url or f"https://{t.lb_addr}/")
    harness.check_profile(prof, traffic)
    link = _uplink(uplink, source, path, site, uplink_target)
    base = link.current() if uplink else 0
    policy = controller.Policy(
        min_instances=min_instances,
        max_instances=max_instances,
        target_rps=target_rps,
        cooldown_in_s=cooldown_in,
        baseline_rps=traffic.peak_rps if uplink else None,
        uplink_base_mbps=base or 1,
        uplink_max_mbps=uplink_max or max(base * 4, 1),
    ).check()
    journal = Journal(log, quiet=False)
    t.runtime.say = journal.say  # a load balancer that missed a change, in the same journal
    sc = scaler.Scaler(t.runtime, t.hosts, link, backend, say=journal.say)
    if start_instances is not None:
        sc.apply(scaler.plan(sc.servers(), start_instances))

    stop = threading.Event()
    loop = Loop(sc, policy, journal, manage_uplink=uplink, sleep=stop.wait)
    game_day = faults.Schedule(kills, t.hosts, t.runtime, backend, say=journal.say)

    def sample() -> tuple[int | None, int | None, int | None]:
        servers = t.runtime.servers(backend)
        rate = (loop.uplink or base) if uplink else None
        return sum(s.enabled for s in servers), sum(s.up for s in servers), rate

    worker = None
    if autoscale:
        worker = threading.Thread(
            target=loop.run, args=(2.0,), kwargs={"stop": stop.is_set}, daemon=True
        )
        worker.start()
    console.print(
        f"profile {prof.name}: {prof.description}; peak {traffic.peak_rps:.0f} req/s, "
        f"{prof.duration_s:g} s against {page}"
    )
    try:
        segments = harness.run(
            prof,
            traffic,
            page,
            target.secret("demo-password"),
            sample=sample,
            on_segment=lambda s: console.print(
                f"  t={s.t:5.1f}s x{s.multiplier:g} {s.rps:6.1f} req/s p50 {s.p50_ms:6.1f} ms "
                f"p99 {s.p99_ms:6.0f} ms errors {s.errors} instances {s.instances_up}",
                highlight=False,
            ),
            on_start=game_day.start,
        )
    finally:
        stop.set()
        killed = game_day.stop()
        if worker:
            worker.join(timeout=30)
    for k in killed:
        colour = "red" if k.error else "yellow"
        console.print(f"  [{colour}]t={k.t:5.1f}s {k.label}[/] {k.error or ', '.join(k.units)}")
    files = reporting.write(
        report,
        prof,
        traffic,
        segments,
        {"autoscale": autoscale, "target_rps_per_instance": target_rps},
        killed,
    )
    errors = sum(s.errors for s in segments)
    colour = "green" if errors == 0 else "red"
    console.print(
        f"[{colour}]{sum(s.requests for s in segments):,} requests, {errors} failed[/]; "
        f"report: {files[0]}"
    )


@lab_app.command("up")
def lab_up() -> None:
    """Create the lab stack (3 containers) and apply playbooks/ent.yml; idempotent."""
    from preau.ent import lab, target
    from preau.output import console

    with console.status("molecule converge (roles/ent_portal)"):
        lab.up()
    t = target.resolve(None)
    console.print(f"[green]ENT lab stack up: https://{t.lb_addr}/ (runtime {t.runtime.address})[/]")


@lab_app.command("down")
def lab_down() -> None:
    """Remove the lab stack's containers."""
    from preau.ent import lab
    from preau.output import console

    lab.down()
    console.print("[green]ENT lab stack removed[/]")
