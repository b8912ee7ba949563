"""A collège's rollout across layers: the router through pyinfra, then the servers through Ansible.

- a rollout: `net apply` of the collège's router (pyinfra, commit-confirm), then
  `playbooks/college.yml` limited to the collège's group (ansible-runner), then a short
  acceptance summary of both layers. A layer that fails stops that collège only.
- a plan: the router's diff (`net plan`) and the playbook in check + diff mode, summarised
  per task; nothing is changed. On a converged collège it is the drift check: whatever it
  reports was changed behind preau's back.
- `run_many` does either on several collèges with bounded parallelism; one failing stops neither the
  others nor the summary.

Where the collège runs decides the inventory: a router in the twin means the twin's inventory
(`inventory/lab.sh`), otherwise production's (`inventory/preau.sh`); both are executable
inventories, so `inventory/group_vars` applies to both. Nothing here imports `preau.lab`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preau.deploys import net_apply
from preau.deploys.targets import WHERE_SSH
from preau.engines import ansible as engine
from preau.errors import BadInput, PreauError
from preau.inventory import group_name
from preau.model import College, Departement

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "college.yml"
INVENTORY = {"lab": REPO / "inventory" / "lab.sh", "production": REPO / "inventory" / "preau.sh"}
PARALLEL = 2


# Check mode cannot run the account tool (it sets passwords; its result feeds later tasks): plans
# leave the roster out, so the shares come from the last import's record, as they do when no
# roster is given. `preau roster plan` previews an import.
CHECK_VARS: dict[str, Any] = {"file_server_roster_file": ""}

OnEvent = Callable[[str, engine.Event], None]  # (collège slug, event)
Say = Callable[[str, str], None]  # (collège slug, message)


def _quiet(_college: str, _msg: str) -> None:
    return None


@dataclass
class NetStage:
    device: str
    changed: list[str] = field(default_factory=list)
    reloaded: list[str] = field(default_factory=list)
    confirmed_in: float | None = None
    diff: str = ""
    error: str = ""


@dataclass
class CollegeResult:
    """One collège's rollout or plan: each layer's outcome and a verdict."""

    college: str
    uai: str
    action: str  # rollout, dry-run, plan
    where: str = ""  # lab or production
    net: NetStage | None = None
    servers: engine.Recap | None = None
    error: str = ""
    bad_input: bool = False  # the error is the caller's (exit 2): nothing was touched

    @property
    def failed(self) -> bool:
        return bool(
            self.error
            or (self.net is not None and self.net.error)
            or (self.servers is not None and not self.servers.ok)
        )

    @property
    def changed(self) -> bool:
        """Something changed (rollout) or would change (plan, dry run)."""
        return bool(
            (self.net is not None and self.net.changed)
            or (self.servers is not None and self.servers.changed)
        )

    def verdict(self) -> str:
        if self.failed:
            return "failed"
        if self.action == "rollout":
            return "changed" if self.changed else "nothing changed"
        return "would change" if self.changed else "nothing to change"

    def as_dict(self) -> dict[str, Any]:
        return {
            "college": self.college,
            "uai": self.uai,
            "action": self.action,
            "where": self.where,
            "verdict": self.verdict(),
            "failed": self.failed,
            "changed": self.changed,
            "error": self.error,
            "net": self.net.__dict__ if self.net else None,
            "servers": self.servers.as_dict() if self.servers else None,
        }


def check_hosts(todo: list[College], hosts: list[str] | None) -> None:
    """Every name given to --limit is a device of one of the collèges rolled out."""
    known = {d.name for c in todo for d in c.devices}
    unknown = [h for h in hosts or [] if h not in known]
    if unknown:
        raise BadInput(f"--limit {','.join(unknown)}: not a device of the collège(s) named")


def colleges(dep: Departement, keys: list[str], every: bool) -> list[College]:
    """The collèges named by slug or UAI, or all of them; bad names stop before anything runs."""
    if every:
        return list(dep.colleges)
    if not keys:
        raise BadInput("name at least one collège (slug or UAI), or use --all")
    out: list[College] = []
    for key in keys:
        college = dep.college(key)
        if college is None:
            raise BadInput(f"no collège {key!r} in {dep.slug} (use a slug or a UAI)")
        if college not in out:
            out.append(college)
    return out


def _net(
    dep: Departement, t: net_apply.Target, *, check: bool, timeout: float, say: Say
) -> NetStage:
    slug = t.site.slug
    try:
        if check:
            p = net_apply.plan(dep, t)
            return NetStage(t.device.name, list(p.changed), diff=p.diff)
        report = net_apply.apply(
            dep, t, timeout=timeout, say=lambda msg: say(slug, f"{t.device.name}: {msg}")
        )
    except PreauError as exc:
        return NetStage(t.device.name, error=str(exc))
    return NetStage(
        report.device, report.changed, report.reloaded, report.confirmed_in, report.diff
    )


def _servers(
    college: College,
    t: net_apply.Target,
    *,
    check: bool,
    source: str | None,
    on_event: OnEvent | None,
    hosts: list[str] | None = None,
    path: Path | None = None,
) -> engine.Recap:
    env = dict(t.env)
    if source and t.kind == WHERE_SSH:
        env["PREAU_SOURCE"] = source
    if path is not None:
        # the inventory script reads the same files as the network stage (and their rosters)
        env["PREAU_INVENTORY"] = str(path.resolve())
    return engine.run(
        PLAYBOOK,
        INVENTORY["production" if t.kind == WHERE_SSH else "lab"],
        extravars=CHECK_VARS if check else None,
        name=college.slug,
        # the collège's group, and of it only `hosts` when given (Ansible's `:&` intersection)
        limit=":&".join(
            [group_name(college.slug), ",".join(hosts)] if hosts else [group_name(college.slug)]
        ),
        check=check,
        env=env,
        on_event=(lambda ev: on_event(college.slug, ev)) if on_event else None,
    )


@dataclass
class _Job:
    """What the network stage hands to the servers stage of one collège."""

    result: CollegeResult
    college: College
    target: net_apply.Target | None = None
    servers: list[str] | None = None  # --limit's servers, None for all
    check: bool = False


def _network_stage(
    dep: Departement,
    college: College,
    *,
    action: str,
    where: str,
    timeout: float,
    hosts: list[str] | None,
    say: Say,
) -> _Job:
    """The router (pyinfra); the job says whether the servers stage should follow."""
    check = action != "rollout"
    job = _Job(CollegeResult(college.slug, college.uai, action), college, check=check)
    result = job.result
    try:
        t = net_apply.target(dep, college.slug, where)
    except PreauError as exc:
        result.error, result.bad_input = str(exc), isinstance(exc, BadInput)
        return job
    result.where = "production" if t.kind == WHERE_SSH else "lab"
    say(college.slug, f"network: {t.device.name} ({result.where})")
    if not hosts or t.device.name in hosts:
        result.net = _net(dep, t, check=check, timeout=timeout, say=say)
        if result.net.error:
            return job  # servers behind a router that failed its check: do not touch them
    servers = [d.name for d in college.devices if d.name in (hosts or []) and d != t.device]
    if hosts and not servers:
        return job
    job.target, job.servers = t, servers or None
    return job


def _servers_stage(
    job: _Job, *, source: str | None, path: Path | None, on_event: OnEvent | None, say: Say
) -> CollegeResult:
    assert job.target is not None
    slug = job.college.slug
    say(slug, "servers: playbooks/college.yml" + (" (check mode)" if job.check else ""))
    try:
        job.result.servers = _servers(
            job.college, job.target, check=job.check, source=source, path=path,
            on_event=on_event,
            hosts=job.servers,
        )  # fmt: skip
    except PreauError as exc:
        job.result.error = str(exc)
    return job.result


def run_many(
    dep: Departement,
    targets: list[College],
    *,
    action: str = "rollout",
    where: str = "auto",
    source: str | None = None,
    path: Path | None = None,
    timeout: float = net_apply.CONFIRM_TIMEOUT,
    hosts: list[str] | None = None,
    parallel: int = PARALLEL,
    on_event: OnEvent | None = None,
    on_done: Callable[[CollegeResult], None] | None = None,
    say: Say = _quiet,
) -> list[CollegeResult]:
    """Each collège: `rollout` changes things; `dry-run` and `plan` only say what would change.

    Network stages run one after the other on this thread (pyinfra 3 runs on gevent, whose
    subprocesses, podman's and ssh's, need the main loop); each collège's servers stage then
    runs in a pool of `parallel` threads (ansible-runner, one ansible-playbook process each)
    while the next router is configured. One collège failing, even on a bug, loses no other.
    `hosts` (device names) limits the rollout: the router only if named, the servers named.
    Results come back in the order given.
    """

    def failed(college: College, exc: Exception) -> CollegeResult:
        result = CollegeResult(college.slug, college.uai, action)
        result.error = f"{type(exc).__name__}: {exc}"
        return result

    def done(result: CollegeResult) -> CollegeResult:
        if on_done is not None:
            on_done(result)
        return result

    def servers(job: _Job) -> CollegeResult:
        try:
            return done(_servers_stage(job, source=source, path=path, on_event=on_event, say=say))
        except Exception as exc:  # noqa: BLE001 - a bug in one collège must not lose the others
            return done(failed(job.college, exc))

    pending: list[CollegeResult | Future[CollegeResult]] = []
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        for college in targets:
            try:
                job = _network_stage(
                    dep, college, action=action, where=where, timeout=timeout, hosts=hosts,
                    say=say,
                )  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - as above
                pending.append(done(failed(college, exc)))
                continue
            if job.target is None:
                pending.append(done(job.result))
            else:
                pending.append(pool.submit(servers, job))
    return [p.result() if isinstance(p, Future) else p for p in pending]


# --- what a plan or a drift check names ----------------------------------------------------------


@dataclass
class Finding:
    """One thing that differs: on which host, which object, and how."""

    layer: str  # network or servers
    host: str
    object: str
    diff: str

    def as_dict(self) -> dict[str, str]:
        return self.__dict__.copy()


def findings(result: CollegeResult) -> list[Finding]:
    out: list[Finding] = []
    if result.net is not None:
        for path in result.net.changed:
            out.append(Finding("network", result.net.device, f"/{path}", _file_diff(result, path)))
    if result.servers is not None:
        for c in result.servers.changes:
            out.append(Finding("servers", c.host, f"{c.play} / {c.task} [{c.action}]", c.diff))
        for f in result.servers.failures:
            out.append(Finding("servers", f.host, f"{f.play} / {f.task} (failed)", f.message))
    return out


def _file_diff(result: CollegeResult, path: str) -> str:
    """The part of the router's unified diff that is about `path` (its header names it)."""
    assert result.net is not None
    chunks: list[list[str]] = []
    for line in result.net.diff.splitlines(keepends=True):
        if line.startswith("--- ") or not chunks:
            chunks.append([])
        chunks[-1].append(line)
    return "".join(
        "".join(c) for c in chunks if any(h.rstrip().endswith(f"/{path}") for h in c[:2])
    )
