"""A thin driver for Ansible through ansible-runner (the library AWX's execution nodes use).

`run()` plays one playbook against one inventory source (an executable inventory such as
`inventory/preau.sh` or `inventory/lab.sh`, so `inventory/group_vars` applies), optionally in
check + diff mode, and turns ansible-runner's event stream into:

- `Progress` updates while it runs (per host: the current play and task, ok/changed/failed
  counts), handed to an `on_event` callback for a live view or a JSON stream;
- a typed `Recap` at the end: per-host counts from the playbook's stats, every task that
  changed (or would) with its diff, every failure with its message.

Every run keeps its artifacts (ansible-runner's `stdout`, `job_events/`, `status`, `rc`) under
`$PREAU_HOME/runs/<name>/artifacts/<ident>/`; ansible-runner's own rotation keeps the last
`KEEP_RUNS` of each name (a name is a collège's slug), older ones are deleted at the next run.
Nothing secret lands there: tasks touching a secret are `no_log`, whose results Ansible
censors before they become events; no env/ files are written (`suppress_env_files`).

ansible_runner is imported inside `run()`: the CLI starts without it.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from preau.errors import ServiceError
from preau.netbox_local.paths import state_root

REPO = Path(__file__).resolve().parents[3]
KEEP_RUNS = 10  # artifact directories kept per name (collège)

# ansible-runner event name -> the count it adds to (the names of Ansible's recap)
_RESULT_EVENTS = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_unreachable": "unreachable",
    "runner_on_skipped": "skipped",
}


@dataclass
class HostProgress:
    """One host while the playbook runs: where it is and what it has done so far."""

    host: str
    play: str = ""
    task: str = ""
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0


@dataclass
class Change:
    """One task that changed a host (or would, in check mode), with its diff when it has one."""

    host: str
    play: str
    task: str
    action: str
    diff: str = ""


@dataclass
class Failure:
    host: str
    play: str
    task: str
    message: str
    unreachable: bool = False


@dataclass
class HostRecap:
    """The playbook's own recap for one host (PLAY RECAP line)."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass
class Recap:
    playbook: str
    check: bool
    status: str  # ansible-runner's: successful, failed, timeout, canceled
    rc: int
    seconds: float
    artifacts: str
    hosts: dict[str, HostRecap] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not any(h.failed or h.unreachable for h in self.hosts.values())

    @property
    def changed(self) -> int:
        return sum(h.changed for h in self.hosts.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "changed": self.changed}


@dataclass
class Event:
    """What the callback gets: the ansible-runner event name and the host's progress after it."""

    kind: str  # play, task, ok, changed, failed, unreachable, skipped, stats
    host: str | None
    progress: HostProgress | None
    play: str = ""
    task: str = ""
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


OnEvent = Callable[[Event], None]


def render_diff(diff: Any) -> str:
    """Ansible's diff result (a dict, or a list of them) as unified diff text."""
    parts = diff if isinstance(diff, list) else [diff]
    out: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        if "prepared" in part:
            out.append(str(part["prepared"]).rstrip("\n") + "\n")
            continue
        if "before" not in part and "after" not in part:
            continue
        before, after = part.get("before", ""), part.get("after", "")
        if not isinstance(before, str) or not isinstance(after, str):
            before, after = _lines(before), _lines(after)
        out += difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=str(part.get("before_header", "before")),
            tofile=str(part.get("after_header", "after")),
        )
    text = "".join(out)
    return text if not text or text.endswith("\n") else text + "\n"


# what ansible.builtin.command/shell answer in check mode instead of running
# (a skipped event carries no result: only its stdout, at verbosity 1, says so)
_WOULD_RUN = "Command would have run if not in check mode"
_ITEM = re.compile(r"\(item=([^)]*)\)")


def _items(res: dict[str, Any]) -> list[dict[str, Any]]:
    """A task's results: its loop items' when it looped, else itself."""
    items = res.get("results")
    if isinstance(items, list) and items:
        return [r for r in items if isinstance(r, dict)]
    return [res]


def _change_text(res: dict[str, Any]) -> str:
    """What one changed result says changed: its diff, else its item or name and state."""
    diff = render_diff(res.get("diff"))
    if diff:
        return diff
    label = res.get("_ansible_item_label", res.get("item", res.get("name")))
    if isinstance(label, dict):
        label = label.get("name", label)
    state = res.get("state")
    return f"changed: {label}" + (f" (state: {state})" if state else "") + "\n" if label else ""


def _text_cmd(text: str) -> str:
    """The command in a result printed as `skipping: [host] => <result>` (verbosity 1; the
    result is YAML with ansible.cfg's callback_result_format, JSON without it)."""
    import yaml

    _, sep, raw = text.replace("\r\n", "\n").partition("=> ")
    if raw.startswith("(item="):  # a loop item: `skipping: [host] => (item=x) => <result>`
        _, sep, raw = raw.partition("=> ")
    try:
        result = yaml.safe_load(raw) if sep else None
    except yaml.YAMLError:
        result = None
    cmd = result.get("cmd") if isinstance(result, dict) else None
    return " ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "the command")


def _would_run(res: dict[str, Any]) -> list[str]:
    """The commands a check-mode run skipped because they would have run (a pending change)."""
    out = []
    for r in _items(res):
        if r.get("msg") == _WOULD_RUN:
            cmd = r.get("cmd")
            out.append(" ".join(map(str, cmd)) if isinstance(cmd, list) else str(cmd or "?"))
    return out


@functools.cache
def _task_nodes(path: str) -> dict[int, dict[str, Any]]:
    """The tasks of a task file by the line they start on (1-based), as Ansible's task_path."""
    import yaml

    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return {}
    out: dict[int, dict[str, Any]] = {}
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.SequenceNode):
            stack += node.value
        elif isinstance(node, yaml.MappingNode):
            task = yaml.safe_load(yaml.serialize(node))
            if isinstance(task, dict):
                out[node.start_mark.line + 1] = task
            # blocks and plays nest their tasks
            stack += [v for k, v in node.value if k.value in ("block", "rescue", "always", "tasks")]
    return out


def _reads_only(task_path: str) -> bool:
    """The task declares `changed_when: false`: a command that only reads, never a change."""
    path, _, line = task_path.rpartition(":")
    if not path or not line.isdigit():
        return False
    task = _task_nodes(path).get(int(line), {})
    return str(task.get("changed_when", "")).strip().lower() == "false"


def _lines(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"{k}: {v}\n" for k, v in sorted(value.items()))
    return f"{value}\n" if value not in ("", None) else ""


class EventHandler:
    """Folds ansible-runner events into per-host progress and the recap's changes/failures.

    Kept apart from `run()` so its logic is the same whatever produced the events.
    """

    def __init__(self, on_event: OnEvent | None = None):
        self.on_event = on_event
        self.progress: dict[str, HostProgress] = {}
        self.changes: list[Change] = []
        self.failures: list[Failure] = []
        self.stats: dict[str, HostRecap] = {}
        self.play = ""
        self.task = ""
        self._pending: dict[tuple[str, str], list[str]] = {}

    def _host(self, name: str) -> HostProgress:
        if name not in self.progress:
            self.progress[name] = HostProgress(name)
        return self.progress[name]

    def _emit(self, kind: str, host: str | None = None, message: str = "") -> None:
        if self.on_event is not None:
            # a snapshot: the live object keeps changing after the callback returns
            live = self.progress.get(host) if host else None
            progress = replace(live) if live else None
            self.on_event(Event(kind, host, progress, self.play, self.task, message))

    def __call__(self, event: dict[str, Any]) -> bool:
        name = event.get("event", "")
        data = event.get("event_data", {}) or {}
        if name == "playbook_on_play_start":
            self.play, self.task = str(data.get("play", "")), ""
            self._emit("play")
        elif name == "playbook_on_task_start":
            self.task = str(data.get("task", ""))
            self._emit("task")
        elif name == "runner_on_start":
            host = self._host(str(data.get("host", "")))
            host.play, host.task = str(data.get("play", self.play)), str(data.get("task", ""))
            self._emit("start", host.host)
        elif name in ("runner_item_on_ok", "runner_item_on_skipped"):
            self._item(event, data)
        elif name in _RESULT_EVENTS:
            self._result(name, data, str(event.get("stdout", "")))
        elif name == "playbook_on_stats":
            self._stats(data)
            self._emit("stats")
        return True  # keep the event in the artifacts

    def _item(self, event: dict[str, Any], data: dict[str, Any]) -> None:
        """A loop item: remember the ones a check-mode command skipped but would have run."""
        text = str(event.get("stdout", ""))
        if _WOULD_RUN in text:
            key = (str(data.get("host", "")), str(data.get("task_uuid", "")))
            label = _ITEM.search(text)
            item = f" (item={label[1]})" if label else ""
            self._pending.setdefault(key, []).append(_text_cmd(text) + item)

    def _result(self, name: str, data: dict[str, Any], stdout: str = "") -> None:
        host = self._host(str(data.get("host", "")))
        res = data.get("res", {}) or {}
        play, task = str(data.get("play", self.play)), str(data.get("task", self.task))
        host.play, host.task = play, task
        kind = _RESULT_EVENTS[name]
        if kind == "failed" and data.get("ignore_errors"):
            kind = "ok"
        key = (host.host, str(data.get("task_uuid", "")))
        would_run = self._pending.pop(key, []) + _would_run(res)
        if not would_run and _WOULD_RUN in stdout:
            would_run = [_text_cmd(stdout)]  # skipped events carry no result, only its text
        if _reads_only(str(data.get("task_path", ""))):
            would_run = []
        if kind == "skipped" and would_run:
            kind = "ok"  # check mode: a command that would have run is a change, not a skip
        setattr(host, kind, getattr(host, kind) + 1)
        changed = kind == "ok" and (bool(res.get("changed")) or bool(would_run))
        if changed:
            host.changed += 1
            action = str(data.get("task_action", ""))
            diff = "".join(_change_text(r) for r in _items(res) if r.get("changed"))
            diff += "".join(f"would run: {cmd}\n" for cmd in would_run)
            self.changes.append(Change(host.host, play, task, action, diff))
        if kind in ("failed", "unreachable"):
            failed = [r for r in _items(res) if r.get("failed")] or [res]
            message = "; ".join(
                str(r.get("msg") or r.get("stderr") or r.get("reason") or "failed") for r in failed
            )
            self.failures.append(Failure(host.host, play, task, message, kind == "unreachable"))
        self._emit("changed" if changed else kind, host.host)

    def _stats(self, data: dict[str, Any]) -> None:
        keys = {
            "ok": "ok",
            "changed": "changed",
            "failures": "failed",
            "dark": "unreachable",
            "skipped": "skipped",
            "rescued": "rescued",
            "ignored": "ignored",
        }
        hosts: set[str] = set()
        for src in keys:
            hosts |= set((data.get(src) or {}).keys())
        for h in sorted(hosts):
            self.stats[h] = HostRecap(
                **{dst: int((data.get(src) or {}).get(h, 0)) for src, dst in keys.items()}
            )


def runs_dir(name: str) -> Path:
    """Where the runs of `name` (a collège slug) keep their artifacts."""
    return state_root() / "runs" / name


def run(
    playbook: str | Path,
    inventory: str | Path,
    *,
    name: str,
    limit: str | None = None,
    check: bool = False,
    extravars: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    on_event: OnEvent | None = None,
    forks: int | None = None,
    timeout: int | None = None,
) -> Recap:
    """Play `playbook` on `inventory` (check + diff when `check`); events go to `on_event`."""
    import ansible_runner  # heavy: loaded only when a playbook runs

    playbook = Path(playbook)
    if not playbook.is_absolute():
        playbook = REPO / playbook
    if not playbook.is_file():
        raise ServiceError(f"playbook {playbook}: no such file")
    private = runs_dir(name)
    private.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    ident = f"{stamp}-{'check' if check else 'run'}"
    handler = EventHandler(on_event)
    envvars = {
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        # ansible-playbook and the inventory scripts come from this venv, as for `preau` itself
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    cmdline = ["--diff"]
    if check:
        cmdline.insert(0, "--check")
    start = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(REPO),
        playbook=str(playbook),
        inventory=str(inventory),
        limit=limit,
        extravars=extravars or {},
        envvars=envvars,
        cmdline=" ".join(cmdline),
        ident=ident,
        rotate_artifacts=KEEP_RUNS,
        suppress_env_files=True,
        forks=forks,
        verbosity=1 if check else None,  # results in the text: see _WOULD_RUN
        timeout=timeout,
        event_handler=handler,
        quiet=True,
    )
    seconds = time.monotonic() - start
    hosts = handler.stats or {
        h: HostRecap(p.ok, p.changed, p.failed, p.unreachable, p.skipped)
        for h, p in handler.progress.items()
    }
    return Recap(
        playbook=str(playbook.relative_to(REPO) if playbook.is_relative_to(REPO) else playbook),
        check=check,
        status=str(result.status),
        rc=int(result.rc if result.rc is not None else 1),
        seconds=seconds,
        artifacts=str(private / "artifacts" / ident),
        hosts=hosts,
        changes=handler.changes,
        failures=handler.failures,
    )


def last_output(recap: Recap, chars: int = 4000) -> str:
    """The tail of the run's stdout (for an error message or a failed test)."""
    path = Path(recap.artifacts) / "stdout"
    return path.read_text(errors="replace")[-chars:] if path.is_file() else ""
