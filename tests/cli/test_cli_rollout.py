"""`preau college rollout|plan|drift`: what they refuse before touching anything (exit 2)."""

from __future__ import annotations


def test_rollout_needs_a_college_or_all(preau) -> None:
    res = preau("college", "rollout", "--source", "files")
    assert res.exit_code == 2
    assert "--all" in res.output


def test_an_unknown_college_is_bad_input_and_nothing_runs(preau) -> None:
    for verb in ("rollout", "plan", "drift"):
        res = preau("college", verb, "0000000X", "--source", "files")
        assert res.exit_code == 2, (verb, res.output)
        assert "no collège '0000000X'" in res.output


def test_a_bad_target_is_bad_input(preau) -> None:
    res = preau("college", "plan", "clg-0929001j", "--target", "moon", "--source", "files")
    assert res.exit_code == 2
    assert "--target moon" in res.output


def test_limit_names_devices_of_the_colleges_rolled_out(preau) -> None:
    res = preau("college", "rollout", "clg-0929001j", "--limit", "nosuch-fs1", "--source", "files")
    assert res.exit_code == 2
    assert "--limit nosuch-fs1: not a device" in res.output


def test_accept_is_refused_where_it_cannot_check_anything(preau) -> None:
    # a dry run changes nothing to accept; production has no probes on its VLANs yet
    for extra, said in ((("--dry-run",), "not with --dry-run"),
                        (("--target", "ssh"), "--accept --target ssh")):  # fmt: skip
        res = preau("college", "rollout", "clg-0929001j", "--accept", *extra, "--source", "files")
        assert res.exit_code == 2, (extra, res.output)
        assert said in res.output and "Traceback" not in res.output
