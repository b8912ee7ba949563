"""A collège's rollout across layers: the router through pyinfra, then the servers through Ansible.

- `rollout_one`: `net apply` of the collège's router (pyinfra, commit-confirm), then
  `playbooks/college.yml` limited to the collège's group (ansible-runner), then a short
  acceptance summary of both layers. A layer that fails stops that collège only.
- `plan_one`: the router's diff (`net plan`) and the playbook in check + diff mode, summarised
  per task; nothing is changed. On a converged collège it is the drift check: whatever it
  reports was changed behind preau's back.
- `rollout_many`: several collèges with bounded parallelism; one failing stops neither the
  others nor the summary.

Where the collège runs decides the inventory: a router in the twin means the twin's inventory
(`inventory/lab.sh`), otherwise production's (`inventory/preau.sh`); both are executable
inventories, so `inventory/group_vars` applies to both. Nothing here imports `preau.lab`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preau.deploys import net_apply
from preau.engines import ansible as engine
from preau.errors import BadInput, PreauError
from preau.inventory import group_name
from preau.model import College, Departement

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "college.yml"
INVENTORY = {"lab": REPO / "inventory" / "lab.sh", "production": REPO / "inventory" / "preau.sh"}
PARALLEL = 2

# pyinfra 3 runs its hosts on gevent, whose hub is per thread and whose State is not meant to be
# shared: the network stages of parallel collèges take turns (a router apply takes seconds),
# their server stages (the long part) run side by side.
_PYINFRA = threading.Lock()

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
        with _PYINFRA:
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
) -> engine.Recap:
    env = dict(t.env)
    if source and not t.lab:
        env["PREAU_SOURCE"] = source
    return engine.run(
        PLAYBOOK,
        INVENTORY["lab" if t.lab else "production"],
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


def run_one(
    dep: Departement,
    college: College,
    *,
    action: str = "rollout",
    where: str = "auto",
    source: str | None = None,
    timeout: float = net_apply.CONFIRM_TIMEOUT,
    hosts: list[str] | None = None,
    on_event: OnEvent | None = None,
    say: Say = _quiet,
) -> CollegeResult:
    """One collège: `rollout` changes things; `dry-run` and `plan` only say what would change.

    `hosts` (device names) limits the rollout to those: the router only if it is named, the
    servers stage to the servers named.
    """
    check = action != "rollout"
    result = CollegeResult(college.slug, college.uai, action)
    try:
        with _PYINFRA:
            t = net_apply.target(dep, college.slug, where)
    except PreauError as exc:
        result.error, result.bad_input = str(exc), isinstance(exc, BadInput)
        return result
    result.where = "lab" if t.lab else "production"
    say(college.slug, f"network: {t.device.name} ({result.where})")
    if not hosts or t.device.name in hosts:
        result.net = _net(dep, t, check=check, timeout=timeout, say=say)
        if result.net.error:
            return result  # servers behind a router that failed its check: do not touch them
    servers = [d.name for d in college.devices if d.name in (hosts or []) and d != t.device]
    if hosts and not servers:
        return result
    say(college.slug, "servers: playbooks/college.yml" + (" (check mode)" if check else ""))
    try:
        result.servers = _servers(
            college, t, check=check, source=source, on_event=on_event, hosts=servers or None
        )
    except PreauError as exc:
        result.error = str(exc)
    return result


def run_many(
    dep: Departement,
    targets: list[College],
    *,
    parallel: int = PARALLEL,
    on_done: Callable[[CollegeResult], None] | None = None,
    **kw: Any,
) -> list[CollegeResult]:
    """`run_one` on each collège, `parallel` at a time; results in the order given."""

    def one(college: College) -> CollegeResult:
        try:
            result = run_one(dep, college, **kw)
        except Exception as exc:  # noqa: BLE001 - a bug in one collège must not lose the others
            result = CollegeResult(college.slug, college.uai, kw.get("action", "rollout"))
            result.error = f"{type(exc).__name__}: {exc}"
        if on_done is not None:
            on_done(result)
        return result

    if len(targets) == 1:
        return [one(targets[0])]
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(one, targets))


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
