"""A collège roster (the CSV school software exports) turned into accounts, logins and groups.

The file server role applies what this module decides: Python says *what* accounts exist and
what they are called, Ansible says *how* (roles/file_server/filter_plugins/roster.py is a shim).

Rules, in one place:
- Columns (`;` separated, UTF-8, header required, any order): classe; nom; prénom;
  date de naissance; profil (élève | enseignant | personnel).
- A person is identified by (nom, prénom, date de naissance), compared accent- and
  case-insensitively. Two lines with the same identity are the same person listed twice:
  an error naming both lines. Same name with another birth date is another person.
- A pupil belongs to exactly one class. A teacher lists the classes they teach (comma
  separated, may be empty). Staff belong to no class (the column must be empty).
- Login: `prenom.nom`, ASCII-folded, lowercase, at most 20 characters (the Windows/SMB
  account name limit); on collision a numeric suffix (2, 3, ...). A login once given is kept
  for that person and never reused for someone else, even after they leave: the state of
  previous imports (identity -> login) is an input. New people are numbered in an order that
  depends on their identity only, so reordering the CSV changes nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from preau.errors import Problem, ValidationFailed
from preau.model.services import CLASS_GROUP_PREFIX, PROFILE_GROUPS, TEAM_GROUP_PREFIX

LOGIN_MAX = 20
# An AD group's name is its cn, at most 64 characters: "classe-<slug>" must fit.
GROUP_MAX = 64
PROFILES = ("eleve", "enseignant", "personnel")
COLUMNS = ("classe", "nom", "prenom", "date de naissance", "profil")
# Letters NFKD does not decompose into ASCII.
_LIGATURES = str.maketrans(
    {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O", "ð": "d"}
    | {"þ": "th", "ł": "l", "Ł": "L", "đ": "d"}
)
_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y")


class RosterInvalid(ValidationFailed):
    """The roster has problems: every one is listed, no account was touched."""

    def __init__(self, problems: list[Problem]):
        super().__init__(problems)
        lines = "\n".join(f"  - {p}" for p in problems)
        self.args = (f"{len(problems)} problem(s) in the roster, no account changed:\n{lines}",)

    def __str__(self) -> str:
        return str(self.args[0])


def fold(text: str) -> str:
    """ASCII, lowercase: accents dropped, ligatures spelt out."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LIGATURES))
    return decomposed.encode("ascii", "ignore").decode("ascii").lower()


def _name_part(text: str) -> str:
    """One half of a login: letters and digits, other runs (spaces, apostrophes) as one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-")


def login_base(first: str, last: str) -> str:
    """`prenom.nom` folded and cut to the SMB limit (no trailing '-' or '.')."""
    base = f"{_name_part(first)}.{_name_part(last)}"
    return base[:LOGIN_MAX].rstrip("-.")


def class_slug(classe: str) -> str:
    """The class as it appears in group and share names: '6ème A' -> '6emea'."""
    return re.sub(r"[^a-z0-9]", "", fold(classe))


def class_group(classe: str) -> str:
    """The group of the pupils of a class."""
    return f"{CLASS_GROUP_PREFIX}{class_slug(classe)}"


def teachers_group(classe: str) -> str:
    """The group of the teachers of a class."""
    return f"{TEAM_GROUP_PREFIX}{class_slug(classe)}"


@dataclass(frozen=True)
class RosterEntry:
    """One line of the roster, checked."""

    line: int
    last: str
    first: str
    birth: date
    profile: str
    classes: tuple[str, ...]

    @property
    def key(self) -> str:
        """A stable identity that does not spell out the person's name and birth date."""
        ident = f"{fold(self.last).strip()}|{fold(self.first).strip()}|{self.birth.isoformat()}"
        return hashlib.sha256(ident.encode()).hexdigest()[:16]

    @property
    def display_name(self) -> str:
        return f"{self.first} {self.last}"


@dataclass(frozen=True)
class Account:
    """An account the file server must hold."""

    login: str
    key: str
    name: str
    profile: str
    classes: tuple[str, ...]  # class slugs
    groups: tuple[str, ...]
    line: int

    def state(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "name": self.name,
            "profile": self.profile,
            "classes": list(self.classes),
            "groups": list(self.groups),
            "enabled": True,
        }


@dataclass(frozen=True)
class Plan:
    """What an import would do: the accounts, and which are created, updated, disabled."""

    accounts: tuple[Account, ...]
    classes: dict[str, str]  # slug -> name as first written
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    disabled: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    state: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.disabled)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accounts": [
                {k: v for k, v in a.state().items() if k != "enabled"}
                | {"line": a.line, "key": a.key}
                for a in self.accounts
            ],
            "classes": [{"slug": s, "name": n} for s, n in sorted(self.classes.items())],
            "groups": sorted({g for a in self.accounts for g in a.groups}),
            "created": list(self.created),
            "updated": list(self.updated),
            "disabled": list(self.disabled),
            "unchanged": len(self.unchanged),
            # every account of earlier imports no longer on the roster, disabled now or before
            "inactive": sorted(
                v["login"] for v in self.state.get("accounts", {}).values() if not v["enabled"]
            ),
            "state": self.state,
        }


def _profile(raw: str) -> str | None:
    value = fold(raw).strip()
    return value if value in PROFILES else None


def _birth(raw: str) -> date | None:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    return None


def parse(text: str, source: str = "roster") -> list[RosterEntry]:
    """Check every line of a roster; raise RosterInvalid listing all problems, or return it."""
    text = text.removeprefix("\ufeff")  # spreadsheet exports often start with a BOM
    reader = csv.reader(io.StringIO(text), delimiter=";")
    problems: list[Problem] = []
    rows = [(n, row) for n, row in enumerate(reader, start=1) if any(c.strip() for c in row)]
    if not rows:
        raise RosterInvalid([Problem(source, "header", "the roster is empty")])
    header_line, header = rows[0]
    names = [fold(h).strip() for h in header]
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise RosterInvalid(
            [
                Problem(
                    f"{source} line {header_line}",
                    "header",
                    f"missing column(s) {', '.join(missing)}; expected {';'.join(COLUMNS)}",
                )
            ]
        )
    col = {c: names.index(c) for c in COLUMNS}
    entries: list[RosterEntry] = []
    seen: dict[str, int] = {}
    for n, row in rows[1:]:
        where = f"{source} line {n}"
        if len(row) != len(header):
            problems.append(
                Problem(where, "columns", f"{len(row)} fields, header has {len(header)}")
            )
            continue
        cell = {c: row[i].strip() for c, i in col.items()}
        line_problems: list[Problem] = []
        for c in ("nom", "prenom"):
            if not cell[c]:
                line_problems.append(Problem(where, c, "missing"))
        profile = _profile(cell["profil"])
        if profile is None:
            line_problems.append(
                Problem(
                    where,
                    "profil",
                    f"{cell['profil']!r} is not one of élève, enseignant, personnel",
                )
            )
        birth = _birth(cell["date de naissance"])
        if birth is None:
            line_problems.append(
                Problem(
                    where,
                    "date de naissance",
                    f"{cell['date de naissance']!r} is not a date (DD/MM/YYYY)",
                )
            )
        classes = tuple(c.strip() for c in cell["classe"].split(",") if c.strip())
        bad_classes = [c for c in classes if not class_slug(c)]
        if bad_classes:
            line_problems.append(
                Problem(where, "classe", f"{bad_classes[0]!r} has no letter or digit")
            )
        long_classes = [c for c in classes if len(class_group(c)) > GROUP_MAX]
        if long_classes:
            line_problems.append(
                Problem(
                    where,
                    "classe",
                    f"{long_classes[0]!r} makes the group {class_group(long_classes[0])!r}, "
                    f"longer than the {GROUP_MAX} characters a directory group name may have",
                )
            )
        if profile == "eleve" and not classes:
            line_problems.append(Problem(where, "classe", "missing: a pupil belongs to one class"))
        elif profile == "eleve" and len(classes) > 1:
            line_problems.append(
                Problem(where, "classe", f"a pupil belongs to one class, got {', '.join(classes)}")
            )
        elif profile == "personnel" and classes:
            line_problems.append(
                Problem(
                    where,
                    "classe",
                    "staff belong to no class: leave it empty (teachers list theirs)",
                )
            )
        for c in ("nom", "prenom"):
            if cell[c] and not _name_part(cell[c]):
                line_problems.append(Problem(where, c, "no login can be derived (no Latin letter)"))
        if line_problems or profile is None or birth is None:
            problems.extend(line_problems)
            continue
        entry = RosterEntry(n, cell["nom"], cell["prenom"], birth, profile, classes)
        if entry.key in seen:
            problems.append(
                Problem(
                    where,
                    "nom;prénom;date de naissance",
                    f"{entry.display_name} ({birth:%d/%m/%Y}) is already on line {seen[entry.key]}",
                )
            )
            continue
        seen[entry.key] = n
        entries.append(entry)
    if problems:
        raise RosterInvalid(problems)
    return entries


def _suffixed(base: str, n: int) -> str:
    suffix = str(n)
    return base[: LOGIN_MAX - len(suffix)].rstrip("-.") + suffix


def assign_logins(entries: Iterable[RosterEntry], taken: Mapping[str, str]) -> dict[str, str]:
    """Key -> login. `taken` maps keys of earlier imports to their logins, which are kept."""
    out: dict[str, str] = {}
    used = set(taken.values())
    new = []
    for e in entries:
        if e.key in taken:
            out[e.key] = taken[e.key]
        else:
            new.append(e)
    # Numbering follows identity, not the order of lines: same people, same logins.
    new.sort(key=lambda e: (login_base(e.first, e.last), e.birth, e.key))
    for e in new:
        base = login_base(e.first, e.last)
        login, n = base, 1
        while login in used:
            n += 1
            login = _suffixed(base, n)
        used.add(login)
        out[e.key] = login
    return out


def plan(entries: list[RosterEntry], state: Mapping[str, Any] | None = None) -> Plan:
    """The accounts of a roster, compared with the state left by the previous import."""
    previous: dict[str, dict[str, Any]] = dict((state or {}).get("accounts", {}))
    logins = assign_logins(entries, {k: v["login"] for k, v in previous.items()})
    classes: dict[str, str] = {}
    accounts = []
    for e in entries:
        slugs = []
        for c in e.classes:
            classes.setdefault(class_slug(c), c)
            slugs.append(class_slug(c))
        slugs = sorted(set(slugs))
        groups = [PROFILE_GROUPS[e.profile]]
        if e.profile == "eleve":
            groups += [f"{CLASS_GROUP_PREFIX}{s}" for s in slugs]
        elif e.profile == "enseignant":
            groups += [f"{TEAM_GROUP_PREFIX}{s}" for s in slugs]
        accounts.append(
            Account(
                logins[e.key], e.key, e.display_name, e.profile, tuple(slugs), tuple(groups), e.line
            )
        )
    accounts.sort(key=lambda a: a.login)
    created, updated, unchanged = [], [], []
    new_state: dict[str, Any] = {}
    for a in accounts:
        before = previous.get(a.key)
        new_state[a.key] = a.state()
        if before is None:
            created.append(a.login)
        elif before != a.state():
            updated.append(a.login)
        else:
            unchanged.append(a.login)
    disabled = []
    for key, before in sorted(previous.items(), key=lambda kv: kv[1]["login"]):
        if key in new_state:
            continue
        new_state[key] = before | {"enabled": False}
        if before.get("enabled", True):
            disabled.append(before["login"])
    return Plan(
        tuple(accounts),
        classes,
        tuple(created),
        tuple(updated),
        tuple(disabled),
        tuple(unchanged),
        {"version": 1, "accounts": new_state},
    )


def classes_in_state(state: Mapping[str, Any] | None) -> list[str]:
    """Class slugs of the active accounts an earlier import left (shares stay without a roster)."""
    accounts = (state or {}).get("accounts", {}).values()
    return sorted({c for a in accounts if a.get("enabled", True) for c in a.get("classes", [])})


def plan_csv(text: str, state: Mapping[str, Any] | None = None, source: str = "roster") -> Plan:
    """Parse then plan: the whole roster is checked before anything is decided."""
    return plan(parse(text, source), state)
