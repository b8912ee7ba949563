"""The roster: parsing, logins, plans. Property tests where the input space is large."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from preau.errors import ValidationFailed
from preau.roster import (
    LOGIN_MAX,
    RosterEntry,
    _name_part,
    assign_logins,
    class_slug,
    classes_in_state,
    fold,
    login_base,
    parse,
    plan,
    plan_csv,
)

HEADER = "classe;nom;prénom;date de naissance;profil\n"
LOGIN_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")


def test_fold_accents_and_ligatures() -> None:
    assert fold("Zoé Cœurdevey Ærø Straße") == "zoe coeurdevey aero strasse"


def test_login_base_examples() -> None:
    assert login_base("Zoé", "Lefèvre") == "zoe.lefevre"
    assert login_base("Anne-Cécile", "Le Gall") == "anne-cecile.le-gall"
    assert login_base("Aïcha", "N'Diaye") == "aicha.n-diaye"
    assert login_base("Marie-Françoise", "Kerguelen-Trémarec") == "marie-francoise.kerg"
    assert len(login_base("Marie-Françoise", "Kerguelen-Trémarec")) <= LOGIN_MAX


def test_class_slug() -> None:
    assert class_slug("6ème A") == "6emea"
    assert class_slug("6A") == class_slug("6 a") == "6a"


def test_parse_sample_with_bom_and_any_column_order() -> None:
    text = "\ufeffnom;Prénom;PROFIL;classe;Date de naissance\nLefèvre;Zoé;Élève;6A;12/03/2014\n"
    (e,) = parse(text)
    assert (e.last, e.first, e.profile, e.classes, e.birth) == (
        "Lefèvre", "Zoé", "eleve", ("6A",), date(2014, 3, 12),
    )  # fmt: skip


def test_homonyms_get_suffix_in_identity_order() -> None:
    text = HEADER + "6A;Lefèvre;Zoé;12/03/2014;élève\n6B;Lefèvre;Zoé;07/11/2013;élève\n"
    p = plan_csv(text)
    by_birth = {a.line: a.login for a in p.accounts}
    # the elder was born first: the order of birth decides, not the order of lines
    assert by_birth == {3: "zoe.lefevre", 2: "zoe.lefevre2"}


def test_groups_per_profile() -> None:
    text = HEADER + (
        "6A;Martin;Léa;01/01/2014;élève\n"
        "6A, 5B;Kerbrat;Anne;14/02/1980;enseignant\n"
        ";Morvan;Yann;30/06/1975;personnel\n"
    )
    groups = {a.login: a.groups for a in plan_csv(text).accounts}
    assert groups == {
        "lea.martin": ("eleves", "classe-6a"),
        "anne.kerbrat": ("enseignants", "profs-5b", "profs-6a"),
        "yann.morvan": ("personnels",),
    }


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (";Martin;Léa;01/01/2014;élève", "classe", "missing: a pupil belongs to one class"),
        ("6A,6B;Martin;Léa;01/01/2014;élève", "classe", "one class"),
        ("6A;;Léa;01/01/2014;élève", "nom", "missing"),
        ("6A;Martin;Léa;31/02/2014;élève", "date de naissance", "not a date"),
        ("6A;Martin;Léa;01/01/2014;parent", "profil", "not one of"),
        ("6A;Martin;Léa;01/01/2014", "columns", "4 fields"),
        ("6A;Morvan;Yann;30/06/1975;personnel", "classe", "staff belong to no class"),
        ("6A;李;Léa;01/01/2014;élève", "nom", "no login"),
        # a class whose directory group name would pass the 64 characters of a cn
        (
            "Section " + "européenne " * 6 + ";Martin;Léa;01/01/2014;élève",
            "classe",
            "64 characters",
        ),
    ],
)
def test_bad_line_names_line_and_field(line: str, field: str, message: str) -> None:
    text = HEADER + "6A;Durand;Paul;02/02/2014;élève\n" + line + "\n"
    with pytest.raises(ValidationFailed) as info:
        parse(text, "r.csv")
    (problem,) = info.value.problems
    assert problem.obj == "r.csv line 3"
    assert problem.field == field
    assert message in problem.message


def test_duplicate_person_names_both_lines() -> None:
    text = HEADER + "6A;Martin;Léa;01/01/2014;élève\n6B;MARTIN;Lea;01/01/2014;élève\n"
    with pytest.raises(ValidationFailed) as info:
        parse(text, "r.csv")
    (problem,) = info.value.problems
    assert problem.obj == "r.csv line 3"
    assert "already on line 2" in problem.message


def test_all_problems_reported_at_once() -> None:
    text = HEADER + ";A;B;01/01/2014;élève\n6A;C;D;xx;élève\n"
    with pytest.raises(ValidationFailed) as info:
        parse(text)
    assert [p.obj for p in info.value.problems] == ["roster line 2", "roster line 3"]


def test_missing_header_column() -> None:
    with pytest.raises(ValidationFailed, match="missing column"):
        parse("classe;nom;prénom;profil\n6A;A;B;élève\n")


def test_plan_reports_created_updated_disabled() -> None:
    first = plan_csv(HEADER + "6A;Martin;Léa;01/01/2014;élève\n6A;Durand;Paul;02/02/2014;élève\n")
    assert set(first.created) == {"lea.martin", "paul.durand"}
    again = plan_csv(HEADER + "6A;Martin;Léa;01/01/2014;élève\n6A;Durand;Paul;02/02/2014;élève\n",
                     first.state)  # fmt: skip
    assert not again.changed
    moved = plan_csv(HEADER + "5A;Martin;Léa;01/01/2014;élève\n", first.state)
    assert (moved.created, moved.updated, moved.disabled) == ((), ("lea.martin",), ("paul.durand",))
    assert moved.to_dict()["inactive"] == ["paul.durand"]
    # a disabled account stays disabled without being reported again, and its login is kept
    later = plan_csv(HEADER + "5A;Martin;Léa;01/01/2014;élève\n5A;Durand;Paul;09/09/2014;élève\n",
                     moved.state)  # fmt: skip
    assert later.disabled == ()
    assert later.created == ("paul.durand2",)


# --- properties -------------------------------------------------------------------------

_letters = st.sampled_from(list("aeiouyzbcdlmnrstéèêëàâçïîôœÉÀ-' "))
_name = st.text(_letters, min_size=1, max_size=14).filter(lambda s: re.search(r"[a-zA-Zé]", s))
_person = st.builds(
    lambda last, first, birth, cls: (last.strip() or "x", first.strip() or "y", birth, cls),
    _name,
    _name,
    st.dates(date(2008, 1, 1), date(2016, 12, 31)),
    st.sampled_from(["6A", "6B", "5ème C", "4D", "3e E"]),
)


def _entries(people: list[tuple[str, str, date, str]]) -> list[RosterEntry]:
    out: dict[str, RosterEntry] = {}
    for n, (last, first, birth, cls) in enumerate(people, start=2):
        e = RosterEntry(n, last, first, birth, "eleve", (cls,))
        if _name_part(first) and _name_part(last) and e.key not in out:
            out[e.key] = e
    return list(out.values())


def _csv(entries: list[RosterEntry]) -> str:
    rows = [f"{e.classes[0]};{e.last};{e.first};{e.birth:%d/%m/%Y};élève" for e in entries]
    return HEADER + "\n".join(rows) + "\n"


@settings(max_examples=150, deadline=None)
@given(st.lists(_person, max_size=30))
def test_logins_unique_valid_and_bounded(people: list[tuple[str, str, date, str]]) -> None:
    logins = assign_logins(_entries(people), {})
    assert len(set(logins.values())) == len(logins)
    for login in logins.values():
        assert len(login) <= LOGIN_MAX
        assert LOGIN_RE.match(login), login


@settings(max_examples=100, deadline=None)
@given(st.lists(_person, max_size=25), st.randoms())
def test_line_order_does_not_change_logins(
    people: list[tuple[str, str, date, str]], rnd: random.Random
) -> None:
    entries = _entries(people)
    shuffled = entries[:]
    rnd.shuffle(shuffled)
    assert assign_logins(entries, {}) == assign_logins(shuffled, {})


@settings(max_examples=100, deadline=None)
@given(st.lists(_person, max_size=20), st.lists(_person, max_size=10))
def test_existing_logins_kept_when_people_arrive(
    before: list[tuple[str, str, date, str]], arrivals: list[tuple[str, str, date, str]]
) -> None:
    first = plan(_entries(before))
    second = plan(_entries(before + arrivals), first.state)
    old = {a.key: a.login for a in first.accounts}
    new = {a.key: a.login for a in second.accounts}
    assert all(new[k] == v for k, v in old.items())
    assert len(set(new.values())) == len(new)


@settings(max_examples=100, deadline=None)
@given(st.lists(_person, max_size=20))
def test_csv_round_trip(people: list[tuple[str, str, date, str]]) -> None:
    entries = _entries(people)
    parsed = parse(_csv(entries))
    assert [(e.key, e.classes) for e in parsed] == [(e.key, e.classes) for e in entries]


def test_classes_survive_in_state() -> None:
    p = plan_csv(HEADER + "6A;Martin;Léa;01/01/2014;élève\n5B;Durand;Paul;02/02/2014;élève\n")
    assert classes_in_state(p.state) == ["5b", "6a"]
    gone = plan_csv(HEADER + "6A;Martin;Léa;01/01/2014;élève\n", p.state)
    assert classes_in_state(gone.state) == ["6a"]
