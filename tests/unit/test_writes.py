"""preau.writes: only stale files are written, with their mode, and a rerun writes nothing."""

from __future__ import annotations

from pathlib import Path

from preau import writes


def test_stale_files_are_written_with_their_mode_and_a_rerun_writes_nothing(tmp_path: Path):
    files = {"etc/krb5.conf": "realm\n", "etc/sssd/sssd.conf": "secret-ish\n"}
    modes = {"etc/sssd/sssd.conf": 0o600}
    assert writes.stale(tmp_path, files, modes) == list(files)
    assert not (tmp_path / "etc").exists(), "stale() only looks"
    assert writes.write_changed(tmp_path, files, modes) == list(files)
    assert (tmp_path / "etc/sssd/sssd.conf").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.rglob(".*.tmp")), "no temporary file left behind"
    assert writes.write_changed(tmp_path, files, modes) == []
    # a mode changed behind our back is stale too, and only that file is rewritten
    (tmp_path / "etc/sssd/sssd.conf").chmod(0o644)
    assert writes.write_changed(tmp_path, files, modes) == ["etc/sssd/sssd.conf"]
    assert (tmp_path / "etc/sssd/sssd.conf").stat().st_mode & 0o777 == 0o600
    files["etc/krb5.conf"] = "another realm\n"
    assert writes.stale(tmp_path, files, modes) == ["etc/krb5.conf"]
