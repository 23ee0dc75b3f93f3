"""Validation results: one :class:`FileReport` per file, a :class:`Summary` of many, as text or JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .rules import BY_ID, ERROR, INFO, WARNING


@dataclass(frozen=True)
class Problem:
    """One finding about one file.

    Attributes
    ----------
    rule_id, level, message, hint : str
    keys_from_readme : tuple of str
        Keywords involved whose value came from the survey README (not the file).
    """

    rule_id: str
    level: str
    message: str
    hint: str
    keys_from_readme: tuple = ()

    @property
    def fixable(self) -> bool:
        return bool(BY_ID[self.rule_id].fix) if self.rule_id in BY_ID else False

    def as_dict(self) -> dict:
        return {"rule": self.rule_id, "level": self.level, "message": self.message, "hint": self.hint,
                "keys_from_readme": list(self.keys_from_readme), "fixable": self.fixable}


@dataclass
class FileReport:
    """The validation of one file.

    Attributes
    ----------
    path : Path
    problems : list of Problem
    hdu : int or None
        The HDU judged (the first holding an image/cube, else a table); None when unreadable.
    readme : Path or None
        The survey README that supplied defaults.
    from_readme : list of str
        Every key of the effective header that came from the README.
    stats : dict
        With ``deep``: ``nan_fraction``, ``blank_planes``, ``rms`` (BUNIT, MAD-based).
    """

    path: Path
    problems: list = field(default_factory=list)
    hdu: int | None = None
    readme: Path | None = None
    from_readme: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    display: str = ""
    #: The :class:`sfng.validate.checks.Subject` the checks judged (its effective header, and
    #: the spectral axis and beam if a check worked them out) when that header is the primary
    #: HDU's own cards over the README, nothing else: the index crawler, describing the same
    #: HDU with the same README, reuses them instead of working them out again.  Else None.
    subject: object = field(default=None, repr=False, compare=False)

    @property
    def errors(self) -> list:
        return [p for p in self.problems if p.level == ERROR]

    @property
    def warnings(self) -> list:
        return [p for p in self.problems if p.level == WARNING]

    @property
    def infos(self) -> list:
        return [p for p in self.problems if p.level == INFO]

    @property
    def ok(self) -> bool:
        """No error: the file meets the minimum specification."""
        return not self.errors

    def rule_ids(self) -> list[str]:
        return [p.rule_id for p in self.problems]

    def has(self, rule_id: str) -> bool:
        return rule_id in self.rule_ids()

    def as_dict(self) -> dict:
        return {"path": self.display or str(self.path), "ok": self.ok, "hdu": self.hdu,
                "readme": str(self.readme) if self.readme else None, "from_readme": self.from_readme,
                "errors": len(self.errors), "warnings": len(self.warnings),
                "problems": [p.as_dict() for p in self.problems], "stats": self.stats}

    def as_text(self, hints: bool = True, levels=(ERROR, WARNING, INFO)) -> str:
        """The report lines of this file (a header line, then one line per problem)."""
        shown = [p for p in self.problems if p.level in levels]
        lines = [f"{self.display or self.path}" + ("" if shown else "  ok")]
        width = max((len(p.rule_id) for p in shown), default=0)
        for p in shown:
            tag = {"error": "ERROR  ", "warning": "warning", "info": "info   "}[p.level]
            src = f" [from README: {', '.join(p.keys_from_readme)}]" if p.keys_from_readme else ""
            lines.append(f"  {tag} {p.rule_id.ljust(width)}  {p.message}{src}")
            if hints and p.level != INFO:
                fix = " (sfng fix can do this)" if p.fixable else ""
                lines.append(f"  {' ' * 7} {' ' * width}  hint: {p.hint}{fix}")
        if self.stats:
            parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.stats.items()]
            lines.append("  data: " + ", ".join(parts))
        return "\n".join(lines)


@dataclass
class Summary:
    """Counts over many reports."""

    files: int = 0
    with_errors: int = 0
    with_warnings: int = 0
    by_rule: Counter = field(default_factory=Counter)   # rule id -> number of files

    def add(self, report: FileReport) -> None:
        self.files += 1
        self.with_errors += bool(report.errors)
        self.with_warnings += bool(report.warnings)
        for rid in set(report.rule_ids()):
            self.by_rule[rid] += 1

    @property
    def ok(self) -> bool:
        return self.with_errors == 0

    def as_dict(self) -> dict:
        return {"files": self.files, "with_errors": self.with_errors, "with_warnings": self.with_warnings,
                "by_rule": {rid: {"level": BY_ID[rid].level if rid in BY_ID else "?", "files": n}
                            for rid, n in self.sorted_rules()}}

    def sorted_rules(self):
        order = {ERROR: 0, WARNING: 1, INFO: 2}
        return sorted(self.by_rule.items(),
                      key=lambda kv: (order.get(BY_ID[kv[0]].level if kv[0] in BY_ID else "", 3), -kv[1], kv[0]))

    def as_text(self, hints: bool = True) -> str:
        """Counts, then one line per rule met (files, and how to fix it)."""
        lines = [f"{self.files} file(s): {self.files - self.with_errors} meet the minimum specification, "
                 f"{self.with_errors} with errors, {self.with_warnings} with warnings"]
        if self.by_rule:
            width = max(len(r) for r in self.by_rule)
            lines.append(f"  {'rule'.ljust(width)}  level    files  " + ("how to fix" if hints else ""))
            for rid, n in self.sorted_rules():
                r = BY_ID.get(rid)
                lvl = r.level if r else "?"
                fix = ""
                if hints and r is not None:
                    fix = ("`sfng fix`: " + r.fix) if r.fix else r.hint
                lines.append(f"  {rid.ljust(width)}  {lvl.ljust(7)}  {str(n).rjust(5)}  {fix}".rstrip())
        return "\n".join(lines)


def summarize(reports) -> Summary:
    s = Summary()
    for r in reports:
        s.add(r)
    return s
