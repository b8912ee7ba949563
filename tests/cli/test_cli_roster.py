"""`preau roster plan`: the preview an operator runs before importing a roster."""

import json
from pathlib import Path

from preau.roster import plan_csv

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "roles/file_server/molecule/default/roster.csv"


def test_plan_table(preau):
    r = preau("roster", "plan", str(SAMPLE))
    assert r.exit_code == 0, r.output
    assert "zoe.lefevre2" in r.output
    assert "would create 6, update 0, disable 0" in r.output


def test_plan_json_against_previous_state(preau, tmp_path):
    first = preau("roster", "plan", str(SAMPLE), "--json")
    assert first.exit_code == 0
    assert {a["login"] for a in json.loads(first.output)["accounts"]} >= {"matheo.le-gall"}
    # the state an earlier import left: everybody but Mathéo, who then shows up as created
    text = SAMPLE.read_text(encoding="utf-8")
    state = plan_csv("\n".join(line for line in text.splitlines() if "Mathéo" not in line)).state
    (tmp_path / "state.json").write_text(json.dumps(state))
    r = preau("roster", "plan", str(SAMPLE), "--state", str(tmp_path / "state.json"), "--json")
    data = json.loads(r.output)
    assert (data["created"], data["updated"], data["disabled"]) == (["matheo.le-gall"], [], [])
    assert "state" not in data  # identities stay on the server


def test_bad_roster_exit_2_names_line(preau, tmp_path):
    bad = tmp_path / "r.csv"
    bad.write_text("classe;nom;prénom;date de naissance;profil\n;A;B;01/01/2014;élève\n")
    r = preau("roster", "plan", str(bad))
    assert r.exit_code == 2
    assert "r.csv line 2: classe: missing" in r.output


def test_not_utf8(preau, tmp_path):
    bad = tmp_path / "r.csv"
    bad.write_bytes("classe;nom;prénom;date de naissance;profil\n".encode("latin-1"))
    r = preau("roster", "plan", str(bad))
    assert r.exit_code == 2
    assert "not UTF-8" in r.output
