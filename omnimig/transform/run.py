"""``omnimig transform``: a source's draft → the rules → files on disk → the validator's verdict.

Every stage keeps the accounting: each input row read ends written, merged or rejected, and
the run refuses to report success if the counts do not add up.
"""

from __future__ import annotations

import importlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from omnimig.io.write import SUFFIX
from omnimig.transform.finish import Options, finish
from omnimig.transform.output import write_records, write_rejects, write_warnings
from omnimig.transform.records import TARGETS, Reject, Tally, Warning_, tally
from omnimig.transform.settings import Settings
from omnimig.validate.problem import plural
from omnimig.validate.run import validate_paths

#: source name -> module; each module has ``TITLE`` and ``read(inputs, settings) -> Draft``.
SOURCES = {
    "omnitron-orders": "omnimig.transform.omnitron",
    "shopify": "omnimig.transform.shopify",
    "mapping": "omnimig.transform.mapping",
}


class TransformError(Exception):
    """The transform cannot run (unknown source, unusable options); one line."""


def source_module(name: str) -> ModuleType:
    if name not in SOURCES:
        raise TransformError(f"unknown source {name!r}; sources are {', '.join(SOURCES)}")
    return importlib.import_module(SOURCES[name])


@dataclass
class Result:
    source: str
    out: Path
    tallies: list[Tally]
    written: dict[str, int]
    paths: dict[str, Path]
    rejects: list[Reject]
    warnings: list[Warning_]
    cannot_fill: dict[tuple[str, str], str]
    defaulted: dict[tuple[str, str], int]
    notes: list[str]
    # Written records where each cannot-fill field is still empty (after defaults).
    empty: dict[tuple[str, str], int] = field(default_factory=dict)
    validation: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # severity, type, field, rule
    validation_examples: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def adds_up(self) -> bool:
        return all(t.adds_up for t in self.tallies)

    @property
    def validation_errors(self) -> int:
        return sum(n for k, n in self.validation.items() if k[0] == "error")

    @property
    def validation_warnings(self) -> int:
        return sum(n for k, n in self.validation.items() if k[0] == "warning")

    def lines(self) -> list[str]:
        """The summary a person reads: accounting first, then what was lost, changed and left empty."""
        out = [*(t.line() for t in self.tallies)]
        wrote = ", ".join(f"{n:,} {t}" for t, n in self.written.items() if n) or "nothing"
        out.append(f"wrote {wrote} to {self.out}")
        if self.rejects:
            kinds = Counter(r.type or "row" for r in self.rejects)
            detail = ", ".join(f"{n:,} {t}" for t, n in kinds.items())
            out.append(f"rejected {detail}: reasons in {self.out / 'rejects.csv'}")
        if self.warnings:
            codes = Counter(w.code for w in self.warnings)
            detail = ", ".join(f"{n:,} {c}" for c, n in codes.most_common())
            out.append(f"changed on the way: {detail}; details in {self.out / 'warnings.csv'}")
        for (type_name, name), n in sorted(self.defaulted.items()):
            out.append(f"default used for {type_name}.{name} in {plural(n, 'row')}")
        out += self.notes
        left = [(k, why, self.empty.get(k, 0)) for k, why in self.cannot_fill.items() if self.empty.get(k)]
        if left:
            out.append("left empty where the export has no value (set with --default TYPE.FIELD=VALUE or [defaults]):")
            out += [f"  {t}.{f}: {why} (empty in {n:,} of {self.written[t]:,})" for (t, f), why, n in left]
        if self.validation:
            out.append(
                f"validate on the written files: {plural(self.validation_errors, 'error')}, "
                f"{plural(self.validation_warnings, 'warning')}"
            )
            for key, n in sorted(self.validation.items(), key=lambda kv: (kv[0][0] != "error", -kv[1])):
                severity, type_name, name, rule = key
                out.append(f"  {severity} {type_name}.{name} {rule} ×{n:,}: {self.validation_examples[key]}")
        else:
            out.append("validate on the written files: no errors, no warnings")
        out += [f"could not validate: {u}" for u in self.unreadable]
        return out


def _clear(out: Path) -> None:
    """Remove the files an earlier run wrote, so a bundle never mixes two runs' files."""
    for type_name in TARGETS:
        for suffix in set(SUFFIX.values()):
            (out / f"{type_name}{suffix}").unlink(missing_ok=True)
    for name in ("rejects.csv", "warnings.csv"):
        (out / name).unlink(missing_ok=True)


def transform(source: str, inputs: list[Path], out: Path, fmt: str, settings: Settings, options: Options) -> Result:
    module = source_module(source)
    for path in inputs:
        if not path.is_file():
            raise TransformError(f"{path}: no such file")
    draft = module.read(inputs, settings)
    for (type_name, name), value in settings.defaults.items():
        options.defaults.setdefault((type_name, name), value)
    if options.password_policy == "empty" and ("user", "password") in draft.cannot_fill:
        draft.cannot_fill[("user", "password")] += (
            "; --password-policy unusable writes a value no login matches, so users set a new password"
        )
    done = finish(draft, options)
    position = {str(p): i for i, p in enumerate(inputs)}
    draft.read.sort(key=lambda o: position.get(o.file, len(position)))  # the summary lists inputs as given
    tallies, extra = tally(draft.read, [r for rs in done.records.values() for r in rs], done.rejects)
    rejects = done.rejects + extra
    out.mkdir(parents=True, exist_ok=True)
    _clear(out)
    paths = write_records(out, fmt, done.records)
    order = {str(p): i for i, p in enumerate(inputs)}
    write_rejects(out / "rejects.csv", rejects, order)
    write_warnings(out / "warnings.csv", draft.warnings, order)
    result = Result(
        source=source,
        out=out,
        tallies=tallies,
        written={t: len(done.records[t]) for t in TARGETS},
        paths=paths,
        rejects=rejects,
        warnings=draft.warnings,
        cannot_fill=draft.cannot_fill,
        defaulted=done.defaulted,
        notes=draft.notes,
        empty={(t, f): sum(1 for r in done.records.get(t, []) if r.get(f) == "") for (t, f) in draft.cannot_fill},
    )
    if paths:
        validation = validate_paths(list(paths.values()))
        for p in (p for r in validation.results for p in r.problems):
            key = (p.severity, p.type or "", p.field or "", p.rule)
            result.validation[key] += 1
            result.validation_examples.setdefault(key, p.message)
        result.unreadable = validation.unreadable
    return result
