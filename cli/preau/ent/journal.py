"""Every decision and action of `preau ent`: JSON lines for machines, rich lines for people."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console  # imported when a journal is made: the CLI starts fast

DEFAULT = Path(os.environ.get("PREAU_ENT_LOG", "build/ent/decisions.jsonl"))

_STYLE = {
    "out": "yellow",
    "in": "cyan",
    "hold": "dim",
    "error": "red",
    "start": "green",
    "stop": "cyan",
    "uplink": "magenta",
}


class Journal:
    def __init__(
        self, path: Path | None = DEFAULT, console: Console | None = None, quiet: bool = False
    ):
        self.path = path
        if console is None:
            from rich.console import Console

            console = Console(stderr=True)
        self.console = console
        self.quiet = quiet
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, event: str, **data: Any) -> dict[str, Any]:
        record = {"ts": round(time.time(), 3), "event": event, **data}
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        if not self.quiet:
            key = str(data.get("action", event))
            reason = data.get("reason") or ", ".join(
                f"{k}={v}" for k, v in data.items() if k not in ("action",)
            )
            self.console.print(
                f"[{_STYLE.get(key, 'white')}]{time.strftime('%H:%M:%S')} {event:<9}"
                f"{key if key != event else '':<5}[/] {reason}",
                highlight=False,
            )
        return record

    def say(self, event: str, data: dict[str, object]) -> None:
        """The scaler's callback shape."""
        self.write(event, **data)
