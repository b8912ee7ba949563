"""The Ansible engine on a tiny local playbook (connection: local): real ansible-runner, real
ansible-playbook, real events. Six playbook runs: about 20 s on an idle machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from preau.engines import ansible as engine

PLAYBOOK = """\
- name: Tiny play
  hosts: all
  gather_facts: false
  tasks:
    - name: Write the motd
      ansible.builtin.copy:
        dest: "{{ target }}"
        content: "{{ text }}\\n"
        mode: "0644"
    - name: Look at it
      ansible.builtin.command: cat {{ target }}
      changed_when: false
    - name: Write the notes
      ansible.builtin.copy:
        dest: "{{ target }}.{{ item }}"
        content: "{{ item }}\\n"
        mode: "0644"
      loop: [a, b]
    - name: Stamp when asked
      ansible.builtin.command: touch {{ target }}.stamp
      changed_when: true
      when: stamp | default(false) | bool
    - name: Stamp each when asked
      ansible.builtin.command: touch {{ target }}.{{ item }}
      changed_when: true
      loop: [p, q]
      when: stamp | default(false) | bool
    - name: Fail when asked
      ansible.builtin.fail:
        msg: asked to fail
      when: fail_now | default(false) | bool
"""


@pytest.fixture
def local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    monkeypatch.setenv("PREAU_HOME", str(tmp_path / "home"))
    playbook = tmp_path / "tiny.yml"
    playbook.write_text(PLAYBOOK)
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(
        f"box1 ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )
    return playbook, inventory, tmp_path / "motd"


def _run(local: tuple[Path, Path, Path], text: str, **kw: object) -> tuple[engine.Recap, list]:
    playbook, inventory, target = local
    events: list[engine.Event] = []
    recap = engine.run(
        playbook,
        inventory,
        name="clg-test",
        extravars={"target": str(target), "text": text, **kw.pop("extra", {})},  # type: ignore[dict-item]
        on_event=events.append,
        **kw,  # type: ignore[arg-type]
    )
    return recap, events


def test_a_run_streams_progress_and_recaps_what_changed(local: tuple[Path, Path, Path]) -> None:
    recap, events = _run(local, "bonjour")
    assert recap.ok and recap.status == "successful", engine.last_output(recap)
    assert recap.hosts["box1"].changed == 2 and recap.hosts["box1"].ok == 3
    assert recap.hosts["box1"].skipped == 3
    change, notes = recap.changes
    assert (change.host, change.play, change.task) == ("box1", "Tiny play", "Write the motd")
    assert change.action == "ansible.builtin.copy"
    assert "+bonjour" in change.diff  # --diff is on for real runs too
    assert "+a" in notes.diff and "+b" in notes.diff  # a loop's diffs, item by item
    assert local[2].read_text() == "bonjour\n"
    # the stream: the play, each task, then per-host results carrying the host's progress
    kinds = [e.kind for e in events]
    assert kinds[0] == "play" and kinds[-1] == "stats"
    changed = next(e for e in events if e.kind == "changed")
    assert changed.progress is not None and changed.progress.task == "Write the motd"
    assert changed.progress.changed == 1
    json.dumps([e.as_dict() for e in events])  # --json streams them as they are
    # the second run changes nothing
    again, _ = _run(local, "bonjour")
    assert again.ok and again.changed == 0 and not again.changes


def test_check_mode_reports_the_diff_and_changes_nothing(local: tuple[Path, Path, Path]) -> None:
    local[2].write_text("old\n")
    for item in "ab":
        Path(f"{local[2]}.{item}").write_text(f"{item}\n")
    recap, _ = _run(local, "new", check=True, extra={"stamp": True})
    assert recap.ok and recap.check
    # the probe (changed_when: false) is a read; the stamp command would run: a pending change
    change, stamp, each = recap.changes
    assert "-old" in change.diff and "+new" in change.diff
    assert stamp.task == "Stamp when asked" and stamp.diff.startswith("would run: touch ")
    # a loop: each item a command would run, with its label
    assert each.diff.splitlines() == [
        f"would run: touch {local[2]}.{item} (item={item})" for item in "pq"
    ]
    assert local[2].read_text() == "old\n"
    assert not Path(f"{local[2]}.stamp").exists()


def test_a_failure_is_named_with_its_task_and_message(local: tuple[Path, Path, Path]) -> None:
    recap, events = _run(local, "x", extra={"fail_now": True})
    assert not recap.ok and recap.status == "failed" and recap.rc != 0
    assert recap.hosts["box1"].failed == 1
    (failure,) = recap.failures
    assert (failure.host, failure.task, failure.message) == (
        "box1",
        "Fail when asked",
        "asked to fail",
    )
    assert any(e.kind == "failed" and e.host == "box1" for e in events)


def test_each_run_keeps_its_artifacts_and_only_the_last_ones(
    local: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "KEEP_RUNS", 1)
    recaps = [_run(local, "r")[0] for _ in range(2)]
    assert (Path(recaps[1].artifacts) / "stdout").is_file()
    assert "PLAY RECAP" in engine.last_output(recaps[1])
    assert not Path(recaps[0].artifacts).exists()
    assert Path(recaps[0].artifacts).parent == engine.runs_dir("clg-test") / "artifacts"


def test_ansible_diff_shapes_render_as_unified_diffs() -> None:
    one = {"before": "a\n", "after": "b\n", "before_header": "/etc/x", "after_header": "/etc/x"}
    assert engine.render_diff(one).splitlines()[:4] == [
        "--- /etc/x",
        "+++ /etc/x",
        "@@ -1 +1 @@",
        "-a",
    ]
    assert engine.render_diff([{"prepared": "line"}]) == "line\n"
    states = engine.render_diff({"before": {"state": "stopped"}, "after": {"state": "started"}})
    assert "-state: stopped" in states and "+state: started" in states
    assert engine.render_diff(None) == ""
