"""The embedded, file-based source of truth as a SourceOfTruth backend."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from preau.errors import ValidationFailed
from preau.model import College, Departement
from preau.sot import ChangeReport, files
from preau.sot.generate import add_college
from preau.sot.layout import CollegeSpec, OnboardedDifferently, already_onboarded, rerun
from preau.sot.validate import check


class FileSource:
    """inventory/departement.yml + inventory/sites/*.yml."""

    name = "files"

    def __init__(self, root: Path):
        self.root = root

    def read(self) -> Departement:
        """The département, checked against the schema and the model's rules."""
        return self.check(files.load(self.root))

    def check(self, dep: Departement) -> Departement:
        """The model's rules, each problem naming the file that holds its object."""
        try:
            return check(dep)
        except ValidationFailed as exc:
            raise ValidationFailed([files.locate(p, self.root) for p in exc.problems]) from None

    def push(self, dep: Departement, *, dry_run: bool = False) -> ChangeReport:
        check(dep)
        report = ChangeReport(dry_run=dry_run)
        current = files.load(self.root) if (self.root / "departement.yml").exists() else None
        old = {s.slug: files.site_dict(s) for s in current.sites} if current else {}
        for site in dep.sites:
            new = files.site_dict(site)
            if site.slug not in old:
                report.add("create", "site", site.slug)
            elif old[site.slug] != new:
                report.add("update", "site", site.slug)
        for slug in set(old) - {s.slug for s in dep.sites}:
            report.add("delete", "site", slug)
        if current is None or files.departement_dict(current) != files.departement_dict(dep):
            report.add("update", "departement", dep.slug)
        if report.changed and not dry_run:
            files.dump(dep, self.root)
        return report

    def add_college(
        self, spec: CollegeSpec, *, dry_run: bool = False, update: bool = False
    ) -> tuple[College, ChangeReport]:
        dep = self.read()
        existing = already_onboarded(dep, spec)
        if existing is not None:
            # A rerun: nothing to do with the same details, an error with others (or --update).
            try:
                college = rerun(existing, spec, update=update)
            except OnboardedDifferently as exc:
                located = [files.locate(p, self.root) for p in exc.problems]
                raise OnboardedDifferently(exc.slug, located, exc.hint) from None
            report = ChangeReport(dry_run=dry_run)
            if college is existing:
                return existing, report
            others = tuple(college if c is existing else c for c in dep.colleges)
            updated = self.check(replace(dep, colleges=others))
            report.add("update", "site", college.slug)
            if not dry_run:
                files.dump(updated, self.root)
            return college, report
        new = add_college(dep, spec)
        check(new)  # what is wrong comes from the command line, not from a file
        college = new.colleges[-1]
        report = ChangeReport(dry_run=dry_run)
        report.add("create", "site", college.slug)
        report.add("create", "circuit", college.circuit.cid if college.circuit else "")
        report.add("create", "prefix", "", len(college.prefixes) + 1)
        report.add("create", "device", "", len(college.devices))
        if not dry_run:
            files.dump(new, self.root)
        return college, report
