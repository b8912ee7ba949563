"""Files written into a folder only when they differ: a rerun changes nothing and says so.

Shared by the commands that hand files to a daemon or an image (`preau monitoring targets
--write`, `preau college client-config --out`). Each file is written beside itself, given its
mode, then renamed: the reader never sees half a file, nor a secret file readable for a moment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def stale(
    directory: Path, files: Mapping[str, str], modes: Mapping[str, int] | None = None
) -> list[str]:
    """The names (relative paths) whose content or mode differs from what is in `directory`."""
    modes = modes or {}
    out = []
    for name, text in files.items():
        path = directory / name
        if (
            not path.is_file()
            or path.read_text(encoding="utf-8") != text
            or (name in modes and path.stat().st_mode & 0o777 != modes[name])
        ):
            out.append(name)
    return out


def write_changed(
    directory: Path, files: Mapping[str, str], modes: Mapping[str, int] | None = None
) -> list[str]:
    """Write the stale files (see `stale`); the names written."""
    modes = modes or {}
    changed = stale(directory, files, modes)
    for name in changed:
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(files[name], encoding="utf-8")
        if name in modes:
            os.chmod(tmp, modes[name])
        tmp.replace(path)
    return changed
