"""What `preau college rollout|plan|drift` show: the live view, the summaries, the findings.

The commands (preau.commands.rollout) call these; the stages themselves are preau.rollout.
The twin's router targets are registered here (importing preau.lab), as `preau net` does.
"""

from __future__ import annotations

import json as jsonlib
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Group
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from preau.engines import ansible as engine
from preau.errors import BadInput, PreauError
from preau.output import console, print_json
from preau.rollout import PARALLEL, CollegeResult, check_hosts, colleges, findings, run_many

# `plan` and `drift` exit with this when something would change (1 is a failure, 2 bad input).
EXIT_CHANGES = 3


def _load(source: str | None, path: object) -> object:
    import preau.lab  # noqa: F401 - registers the twin's router target factory
    from preau.commands.net import load

    return load(source, path)  # type: ignore[arg-type]


class LiveView:
    """Per host: the collège, current play and task, ok/changed/failed so far."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hosts: dict[tuple[str, str], engine.HostProgress] = {}
        self.stage: dict[str, str] = {}
        self.start = time.monotonic()

    def event(self, college: str, ev: engine.Event) -> None:
        with self.lock:
            if ev.host and ev.progress:
                self.hosts[(college, ev.host)] = ev.progress
            elif ev.kind == "play":
                self.stage[college] = f"servers: {ev.play}"

    def say(self, college: str, msg: str) -> None:
        with self.lock:
            self.stage[college] = msg

    def done(self, result: CollegeResult) -> None:
        with self.lock:
            self.stage[result.college] = result.verdict()

    def __rich__(self) -> Group:
        with self.lock:
            table = Table(title=f"rollout ({time.monotonic() - self.start:.0f} s)", expand=False)
            for col in ("collège", "host", "play", "task", "ok", "changed", "failed"):
                table.add_column(
                    col, justify="right" if col in ("ok", "changed", "failed") else "left"
                )
            for (college, host), p in sorted(self.hosts.items()):
                table.add_row(
                    college, host, p.play, p.task, str(p.ok),
                    f"[yellow]{p.changed}[/]" if p.changed else "0",
                    f"[red]{p.failed + p.unreachable}[/]" if p.failed or p.unreachable else "0",
                )  # fmt: skip
            stages = [Text(f"{c}: {s}") for c, s in sorted(self.stage.items())]
            return Group(*stages, table)


_STDOUT = threading.Lock()  # parallel collèges write whole lines


def _emit(obj: dict[str, object]) -> None:
    """One JSON object per line, flushed: `--json` is a stream for pipes and `jq`."""
    line = jsonlib.dumps(obj, ensure_ascii=False, default=str) + "\n"
    with _STDOUT:
        sys.stdout.write(line)
        sys.stdout.flush()


def _summary(results: list[CollegeResult], action: str) -> None:
    table = Table(title=f"{action}: {len(results)} collège(s)")
    for col in ("collège", "where", "network", "servers", "verdict"):
        table.add_column(col)
    for r in results:
        if r.net is None:
            net = "-"
        elif r.net.error:
            net = f"[red]{escape(r.net.error)}[/]"
        else:
            net = f"{r.net.device}: {len(r.net.changed)} file(s)" + (
                f", healthy after {r.net.confirmed_in:.1f} s" if r.net.confirmed_in else ""
            )
        if r.servers is None:
            servers = f"[red]{escape(r.error)}[/]" if r.error else "-"
        else:
            servers = (
                ", ".join(
                    f"{h} ok={c.ok} changed={c.changed} failed={c.failed + c.unreachable}"
                    for h, c in sorted(r.servers.hosts.items())
                )
                or "no host"
            )
        colour = "red" if r.failed else "yellow" if r.changed else "green"
        table.add_row(r.college, r.where, net, servers, f"[{colour}]{r.verdict()}[/]")
    console.print(table)
    for r in results:
        if r.servers is not None:
            for f in r.servers.failures:
                console.print(
                    f"[red]{r.college} {f.host}: {escape(f.task)}: {escape(f.message)}[/]"
                )
            console.print(f"[dim]{r.college}: log in {r.servers.artifacts}[/]")


def rollout(
    keys: list[str] | None,
    every: bool,
    dry_run: bool,
    parallel: int | None,
    limit: list[str] | None,
    target: str,
    source: str | None,
    path: object,
    json: bool,
    accept: bool | None = None,
) -> None:
    """Roll out collèges: the router (pyinfra), then the servers (Ansible), then a summary,
    then each collège rolled out in the twin is accepted (or refused). `accept`: None runs the
    acceptance where it can (not in a dry run, not over SSH); True insists; False skips it."""
    parallel = parallel or PARALLEL
    if accept and dry_run:
        raise BadInput("--accept checks what a rollout did: not with --dry-run")
    if accept:
        _refuse_ssh_acceptance(target, "--accept --target ssh")
    accept = accept is not False and not dry_run and target != "ssh"
    dep = _load(source, path)
    todo = colleges(dep, keys or [], every)  # type: ignore[arg-type]
    check_hosts(todo, limit)
    action = "dry-run" if dry_run else "rollout"
    kw: dict[str, Any] = {
        "action": action, "where": target, "source": source, "path": path, "hosts": limit,
    }  # fmt: skip
    if json:

        def stream(college: str, ev: engine.Event) -> None:
            _emit({"type": "event", "college": college, **ev.as_dict()})

        def done(r: CollegeResult) -> None:
            _emit({"type": "result", **r.as_dict()})

        results = run_many(
            dep, todo, parallel=parallel, on_event=stream, on_done=done,  # type: ignore[arg-type]
            say=lambda c, m: _emit({"type": "stage", "college": c, "message": m}), **kw,
        )  # fmt: skip
    else:
        view = LiveView()
        with Live(view, console=console, refresh_per_second=4, transient=True):
            results = run_many(
                dep, todo, parallel=parallel, on_event=view.event, on_done=view.done,  # type: ignore[arg-type]
                say=view.say, **kw,
            )  # fmt: skip
        if dry_run:
            for r in results:
                _print_findings(r, full=False)
        _summary(results, action)
        for r in results:
            if r.action == "rollout" and not r.failed:
                what = "rolled out" if r.changed else "nothing changed: already rolled out"
                console.print(f"[green]{r.college}: {what}[/]")
    refused = _accept_each(dep, todo, results, json) if accept else False
    code = _exit_code(results)
    raise typer.Exit(code or (EXIT_CHANGES if refused else 0))


def _accept_each(dep: Any, todo: list[Any], results: list[CollegeResult], json: bool) -> bool:
    """The acceptance stage: each collège the rollout left whole in the twin, one after the
    other (the probes share the twin's switch); True when one is refused."""
    refused = False
    by_slug = {c.slug: c for c in todo}
    for r in results:
        if r.failed or r.where != "lab":
            if not json and r.where == "production":
                console.print(f"[yellow]{r.college}: acceptance runs on the twin only[/]")
            continue
        college = by_slug[r.college]

        def say(message: str, slug: str = college.slug) -> None:
            if json:
                _emit({"type": "stage", "college": slug, "message": f"acceptance: {message}"})
            else:
                console.print(f"[dim]{slug}: acceptance: {escape(message)}[/]")

        try:
            report, files = _acceptance(dep, college, None, say)
        except PreauError as exc:  # the rollout is done: say why it could not be accepted
            refused = True
            if json:
                _emit({"type": "acceptance", "college": college.slug, "uai": college.uai,
                       "passed": False, "verdict": f"not run: {exc}"})  # fmt: skip
            else:
                console.print(f"[red]{college.slug}: acceptance not run: {escape(str(exc))}[/]")
            continue
        refused = refused or not report.passed
        if json:
            _emit({"type": "acceptance", **report.as_dict(), "files": [str(f) for f in files]})
        else:
            _print_acceptance(college, report, files)
    return refused


def _exit_code(results: list[CollegeResult]) -> int:
    """0 when every collège succeeded; 2 when the only failures are bad input; else 1."""
    failed = [r for r in results if r.failed]
    if not failed:
        return 0
    return 2 if all(r.bad_input for r in failed) else 1


def _plan(key: str, target: str, source: str | None, path: object) -> CollegeResult:
    dep = _load(source, path)
    todo = colleges(dep, [key], False)  # type: ignore[arg-type]
    return run_many(dep, todo, action="plan", where=target, source=source, path=path)[0]  # type: ignore[arg-type]


def _print_findings(result: CollegeResult, full: bool) -> None:
    """Each difference: layer, host and object, then its diff (20 lines unless `full`)."""
    for f in findings(result):
        lines = f.diff.splitlines()
        console.print(f"[yellow]{f.layer} {f.host}: {escape(f.object)}[/]", highlight=False)
        shown = lines if full else lines[:20]
        if shown:
            console.print("\n".join(shown), markup=False, highlight=False, soft_wrap=True)
        if len(lines) > len(shown):
            console.print(f"[dim]... {len(lines) - len(shown)} more line(s) (--diff)[/]")


def _report(result: CollegeResult, json: bool, full: bool, title: str) -> None:
    found = findings(result)
    if json:
        print_json({**result.as_dict(), "findings": [f.as_dict() for f in found]})
    else:
        if result.error:
            console.print(f"[red]{result.college}: {escape(result.error)}[/]")
        if result.net is not None and result.net.error:
            console.print(f"[red]{result.net.device}: {escape(result.net.error)}[/]")
        if not found and not result.failed:
            console.print(f"[green]{result.college}: {title}: nothing would change[/]")
        _print_findings(result, full)
        if found:
            console.print(f"[yellow]{result.college}: {len(found)} difference(s)[/]")
    if result.failed:
        raise typer.Exit(_exit_code([result]))
    if found:
        raise typer.Exit(EXIT_CHANGES)


def plan(key: str, diff: bool, target: str, source: str | None, path: object, json: bool) -> None:
    """What a rollout would change: the router's diff and each server task's (check mode).

    Exit code 0: nothing would change; 3: something would; 1: the plan failed.
    """
    _report(_plan(key, target, source, path), json, diff, "plan")


def drift(key: str, diff: bool, target: str, source: str | None, path: object, json: bool) -> None:
    """On a rolled-out collège: what was changed behind preau's back (host, object, diff).

    Exit code 0: no drift; 3: drift found (for cron and CI); 1: the check failed.
    """
    _report(_plan(key, target, source, path), json, diff, "drift")


def _acceptance(
    dep: Any, college: Any, out: object, say: Callable[[str], None]
) -> tuple[Any, tuple[Path, Path]]:
    """Run the acceptance checks of one collège of the twin and write its report: the report
    and its files (JSON, HTML with the topology); BadInput when the twin does not run it."""
    from preau.diagram import render_svg, site_dot
    from preau.lab import acceptance, topology, twin
    from preau.verify import acceptance as report_writer

    # the twin as its last `up` built it (how many PCs and printers)
    choice = twin.remembered() or {}
    counts = {k: int(choice[k]) for k in ("pcs", "printers") if k in choice}
    plan = topology.plan(dep, [college.slug], **counts)  # type: ignore[arg-type]
    running = twin.lab_containers()
    if not all(h.container in running for h in plan.hosts if h.site == college.slug):
        raise BadInput(f"{college.slug}: not running in the twin (`preau lab up --college ...`)")
    report = acceptance.run(dep, college, plan, say)
    folder = Path(str(out)) if out else engine.runs_dir(college.slug) / "acceptance"
    return report, report_writer.write(report, folder, render_svg(site_dot(dep, college)))


def _print_acceptance(college: Any, report: Any, files: tuple[Path, Path]) -> None:
    table = Table(title=f"acceptance of {college.slug} ({college.uai})")
    for column in ("check", "from", "result", "what to fix"):
        table.add_column(column)
    for c in report.checks:
        result = "[green]pass[/]" if c.passed else "[red]FAIL[/]"
        table.add_row(escape(c.name), escape(c.where), result, escape(c.fix))
    console.print(table)
    colour = "green" if report.passed else "red"
    console.print(f"[{colour}]{college.slug}: {report.verdict}[/] ({report.seconds:.0f} s)")
    as_json, as_html = files
    console.print(f"report: {as_html} and {as_json.name}")


def _refuse_ssh_acceptance(target: str, option: str = "--target ssh") -> None:
    if target == "ssh":
        raise BadInput(
            f"{option}: the acceptance checks run from the twin's VLANs and PCs only for now"
        )


def accept(
    key: str, out: object, target: str, source: str | None, path: object, json: bool
) -> None:
    """The acceptance checks of one collège, written as JSON and HTML; exit 3 when refused."""
    dep: Any = _load(source, path)
    (college,) = colleges(dep, [key], False)
    _refuse_ssh_acceptance(target)

    def say(message: str) -> None:
        if not json:
            console.print(f"[dim]{college.slug}: {escape(message)}[/]")

    report, files = _acceptance(dep, college, out, say)
    if json:
        print_json({**report.as_dict(), "files": [str(f) for f in files]})
    else:
        _print_acceptance(college, report, files)
    if not report.passed:
        raise typer.Exit(EXIT_CHANGES)
