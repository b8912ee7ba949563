"""A thin driver for pyinfra 3: connect to hosts, run a @deploy (or only plan it), report.

Hosts are pyinfra inventory names: `@podman/<container>` for the twin (pyinfra's own podman
connector, which execs into a running container and leaves it running), or an SSH address.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyinfra.api import Config, Inventory, State
from pyinfra.api.connect import connect_all, disconnect_all
from pyinfra.api.deploy import add_deploy
from pyinfra.api.exceptions import PyinfraError
from pyinfra.api.facts import get_facts
from pyinfra.api.operations import run_ops

from preau.errors import ServiceError

Host = tuple[str, dict[str, Any]]


@dataclass
class OpResult:
    """One operation on one host: its name, whether it changed (or would), its commands."""

    name: str
    changed: bool


@dataclass
class DeployResult:
    dry_run: bool
    ops: dict[str, list[OpResult]] = field(default_factory=dict)  # host name -> ops

    def changed(self, host: str | None = None) -> list[OpResult]:
        hosts = [host] if host else list(self.ops)
        return [op for h in hosts for op in self.ops.get(h, []) if op.changed]


@contextmanager
def connected(hosts: list[Host], env: dict[str, str] | None = None) -> Iterator[State]:
    """A pyinfra State connected to `hosts`; disconnects on exit.

    `env` is exported for the connectors (podman needs CONTAINERS_CONF); pyinfra runs podman
    and ssh as subprocesses of this process.
    """
    for key, value in (env or {}).items():
        os.environ[key] = value
    # pyinfra logs every command at INFO; the CLI prints its own summary instead.
    logging.getLogger("pyinfra").setLevel(logging.WARNING)
    # pyinfra takes (name, data) tuples: the data is what deploys read through `host.data`.
    inventory = Inventory((list(hosts), {}))
    state = State(inventory, Config(FAIL_PERCENT=0))
    try:
        connect_all(state)
    except PyinfraError as exc:
        raise ServiceError(f"pyinfra could not connect: {exc}") from exc
    failed = [h.name for h in inventory if h not in state.activated_hosts]
    if failed:
        raise ServiceError(f"pyinfra could not connect to {', '.join(failed)}")
    try:
        yield state
    finally:
        disconnect_all(state)


def run(
    hosts: list[Host],
    deploy: Callable[..., Any],
    *args: Any,
    dry_run: bool = False,
    env: dict[str, str] | None = None,
    **kwargs: Any,
) -> DeployResult:
    """Plan `deploy` on every host (facts are read, commands computed); run it unless dry_run."""
    with connected(hosts, env) as state:
        add_deploy(state, deploy, *args, **kwargs)
        result = DeployResult(dry_run=dry_run)
        if not dry_run:
            try:
                run_ops(state)
            except PyinfraError as exc:
                raise ServiceError(f"pyinfra deploy failed: {exc}") from exc
        for host in state.inventory:
            ops = []
            for op_hash in state.get_op_order():
                data = state.ops.get(host, {}).get(op_hash)
                if data is None:
                    continue
                names = state.get_op_meta(op_hash).names
                ops.append(
                    OpResult(
                        name=", ".join(sorted(names)) or op_hash,
                        changed=bool(data.operation_meta.will_change),
                    )
                )
            result.ops[host.name] = ops
        failed = [h.name for h in state.inventory if h in state.failed_hosts]
        if failed:
            raise ServiceError(f"pyinfra deploy failed on {', '.join(failed)}")
        return result


def facts(
    hosts: list[Host], fact: Any, *args: Any, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """One fact from every host: {host name: value}."""
    with connected(hosts, env) as state:
        return {h.name: v for h, v in get_facts(state, fact, args=args).items()}
