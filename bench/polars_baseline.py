"""A Polars validator for an Akinon CSV bundle, written from omnimig's rule files alone (issue 16).

This is the baseline omnimig's speed is measured against: what a skilled data engineer who does
not know omnimig's engine would write after reading ``omnimig/schemas/``. It imports nothing from
omnimig; it reads ``<type>.table.json``, ``datapackage.json`` and ``choices/*.json`` at run time and
turns every rule in them into Polars expressions, so it restates no rule:

* field rules (each ``<type>.table.json``): ``required``, ``maxLength``, ``pattern``, ``enum``,
  ``minimum``, the syntax of ``number``/``integer``/``boolean``/``object`` cells, ``maxDigits``,
  ``decimalPlaces``, ``temporal`` (a real calendar day), ``choices`` (warnings), ``aliases``;
* cross-file rules (``datapackage.json``): ``primaryKey`` and ``uniqueKeys`` (``caseInsensitive``),
  ``foreignKeys``, and the consistency checks ``same-value``, ``has-children``, ``covers-children``.

What the rule files cannot say is the README's reading of them, taken as documented: a cell is
missing when empty; a type error hides the cell's other rules; a value that breaks its pattern
gets no calendar or choices opinion; a number is plain decimal text (``12.50``, no exponent, no
thousands separator, no decimal comma); digits are counted without sign and leading zeros; a
row number is the spreadsheet row (header = 1, a multi-line cell is one row); a unique key flags
every repeat after the first; a same-value check compares a row with the first referenced row.

Output: the set of (file, row, field, rule, severity) found, as JSON on stdout (``--summary`` for
counts only). Each file is scanned once, every cell as text, on Polars' streaming engine (all
cores); the field rules of a file are one query (one boolean column per rule, filtered to the
failing rows) and the key columns the cross-file rules need a second query on the same scan. The
columns rows are joined on are dictionary-encoded (``Categorical``), so the cross-file joins,
anti-joins and group-bys hash integers.

    python bench/polars_baseline.py BUNDLE_DIR [--schemas DIR] [--summary] [--engine streaming|in-memory|eager]

``tests/test_polars_baseline.py`` proves the set equals omnimig's on planted bundles. Where the two
cannot agree, by construction (none of these occurs in a generated bundle):

* messages: the baseline writes none; only (file, row, field, rule, severity) is compared;
* reading: omnimig's reader problems (``row-width``, ``unterminated-quote``, ``encoding``, a
  ``sep=`` line, UTF-16/Windows-1254 files, repeated header names) are not rules of the schema
  files and are not checked here; Polars refuses a row with too many cells and pads a short one
  with empty cells (reported as ``required``, not ``row-width``);
* case: Polars lower-cases with Unicode's full mapping (``İ`` -> ``i̇``), Arrow (omnimig) with the
  simple one (``İ`` -> ``i``), so a case-insensitive unique or same-value comparison of text
  holding U+0130 can differ;
* ``amount-below-items`` reads a quantity that is not plain decimal text with Polars' cast
  (``" 3"`` is no number), omnimig with ``pandas.to_numeric`` (``" 3"`` is 3): only an item whose
  quantity already has a ``type`` error can change its order's warning;
* ``minimum`` compares floats; omnimig settles a tie with more than 15 significant digits exactly;
* a ``temporal`` field without a ``pattern`` (none in our schemas: each has one that fixes the
  ``YYYY-MM-DD`` shape) is parsed by chrono here and by ``pandas.to_datetime`` in omnimig.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

#: The text syntax of the Table Schema types as the README documents it (not a field rule).
NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"
INTEGER = r"^[+-]?[0-9]+$"
ROW = "__row"  # the spreadsheet row of each record: header = 1
BLANK = "__blank"  # every cell of the record is empty: one blank-row problem instead of one per field

Finding = tuple[str, int | None, str | None, str, str]  # file name, row, field, rule, severity


def default_schemas() -> Path:
    """Where the installed omnimig keeps its rule files (found without importing omnimig)."""
    import importlib.util

    spec = importlib.util.find_spec("omnimig")
    if spec is None or spec.origin is None:
        raise SystemExit("polars_baseline: omnimig is not installed; pass --schemas DIR")
    return Path(spec.origin).parent / "schemas"


@dataclass
class Rules:
    """The rule files as read: the package, each type's table schema, the choice lists."""

    package: dict[str, Any]
    tables: dict[str, dict[str, Any]]
    choices: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, folder: Path) -> Rules:
        package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
        tables = {
            r["name"]: json.loads((folder / r["schema"]).read_text(encoding="utf-8")) for r in package["resources"]
        }
        choices = {
            p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted((folder / "choices").glob("*.json"))
        }
        return cls(package, tables, choices)

    @property
    def resources(self) -> list[dict[str, Any]]:
        return self.package["resources"]

    def resource(self, name: str) -> dict[str, Any]:
        return next(r for r in self.resources if r["name"] == name)

    def key_columns(self, name: str) -> list[str]:
        """Every column of ``name`` some cross-file rule reads."""
        wanted: list[str] = []

        def add(*names: str) -> None:
            wanted.extend(n for n in names if n not in wanted)

        for r in self.resources:
            mine = r["name"] == name
            if mine:
                add(*r.get("primaryKey", []))
                for key in r.get("uniqueKeys", []):
                    add(*key["fields"])
            for fk in r.get("foreignKeys", []):
                if mine:
                    add(*fk["fields"])
                if fk["reference"]["resource"] == name:
                    add(*fk["reference"]["fields"])
            for check in r.get("consistency", []):
                if mine:
                    add(*check["fields"], *check.get("via", []))
                    add(*(check[k] for k in ("amount", "discount") if k in check))
                for part in (check.get("reference"), check.get("children")):
                    if part and part["resource"] == name:
                        add(*part["fields"], *(part[k] for k in ("price", "quantity") if k in part))
        return wanted

    def join_columns(self, name: str) -> set[str]:
        """The columns of ``name`` that rows are matched on across files (references, children).

        They are dictionary-encoded (``Categorical``, one global dictionary) once the field rules
        have read them as text, so every join, anti-join and group-by on them hashes integers.
        """
        joined: set[str] = set()
        for r in self.resources:
            for fk in r.get("foreignKeys", []):
                if r["name"] == name:
                    joined.update(fk["fields"])
                if fk["reference"]["resource"] == name:
                    joined.update(fk["reference"]["fields"])
            for check in r.get("consistency", []):
                if "children" not in check:
                    continue
                if r["name"] == name:
                    joined.update(check["fields"])
                if check["children"]["resource"] == name:
                    joined.update(check["children"]["fields"])
        return joined


# ------------------------------------------------------------------------------------- field rules


def _missing(c: pl.Expr) -> pl.Expr:
    return c.is_null() | (c == "")


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _not_objects(cells: pl.Series) -> pl.Series:
    """True where a cell is not a JSON object. Few distinct texts in practice: each is parsed once."""
    distinct = cells.drop_nulls().unique().to_list()
    return cells.is_in([v for v in distinct if v and not _is_json_object(v)])


def field_flags(
    schema: dict[str, Any], choices: dict[str, dict[str, Any]], columns: dict[str, str]
) -> list[tuple[str, str, str, pl.Expr]]:
    """(field, rule, severity, expression True where the cell breaks the rule) for every field rule."""
    blank = pl.col(BLANK)
    flags: list[tuple[str, str, str, pl.Expr]] = [("", "blank-row", "error", blank)]
    for spec in schema["fields"]:
        name = spec["name"]
        if name not in columns:
            continue
        c = pl.col(columns[name])
        cons = spec.get("constraints", {})
        kind = spec.get("type", "string")
        missing = _missing(c)
        live = ~blank
        if cons.get("required"):
            flags.append((name, "required", "error", live & missing))
        present = live & ~missing
        if kind == "number":
            wrong = present & ~c.str.contains(NUMBER)
        elif kind == "integer":
            wrong = present & ~c.str.contains(INTEGER)
        elif kind == "boolean":
            spellings = [*spec.get("trueValues", ["true", "True", "TRUE", "1"])]
            spellings += spec.get("falseValues", ["false", "False", "FALSE", "0"])
            wrong = present & ~c.is_in(spellings)
        elif kind == "object":
            wrong = present & c.map_batches(_not_objects, pl.Boolean, is_elementwise=True)
        else:
            wrong = pl.lit(False)
        if kind != "string":
            flags.append((name, "json-object" if kind == "object" else "type", "error", wrong))
        valid = present & ~wrong
        if "maxLength" in cons:
            flags.append((name, "max-length", "error", valid & (c.str.len_chars() > cons["maxLength"])))
        shaped = valid
        if "pattern" in cons:
            matched = c.str.contains(cons["pattern"])
            flags.append((name, "pattern", "error", valid & ~matched))
            shaped = valid & matched
        if "temporal" in spec:
            day = c.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
            flags.append((name, "type", "error", shaped & day.is_null()))
        if "enum" in cons:
            flags.append((name, "enum", "error", valid & ~c.is_in(cons["enum"])))
        if "minimum" in cons:
            flags.append((name, "min-value", "error", valid & (c.cast(pl.Float64, strict=False) < cons["minimum"])))
        if "maxDigits" in spec or "decimalPlaces" in spec:
            body = c.str.strip_chars_start("+-").str.strip_chars_start("0")
            length = body.str.len_chars()
            point = body.str.find(".", literal=True)
            frac = pl.when(point.is_null()).then(0).otherwise(length - point - 1)
            whole = pl.when(point.is_null()).then(length).otherwise(point)
            if "decimalPlaces" in spec:
                flags.append((name, "decimal-places", "error", valid & (frac > spec["decimalPlaces"])))
            if "maxDigits" in spec:
                flags.append((name, "max-digits", "error", valid & (whole + frac > spec["maxDigits"])))
        if "choices" in spec and spec["choices"] in choices:
            known = choices[spec["choices"]]
            insensitive = known.get("caseInsensitive", True)
            values = [str(v).lower() if insensitive else str(v) for v in known["values"]]
            text = c.str.to_lowercase() if insensitive else c
            flags.append((name, "choices", "warning", shaped & ~text.is_in(values)))
    return flags


def header_findings(file: str, schema: dict[str, Any], header: list[str]) -> tuple[dict[str, str], list[Finding]]:
    """Which column holds each field; missing, unknown and aliased columns (row 1, the header)."""
    names = [f["name"] for f in schema["fields"]]
    columns: dict[str, str] = {}
    found: list[Finding] = []
    for spec in schema["fields"]:
        name = spec["name"]
        if name in header:
            columns[name] = name
            continue
        alias = next((a for a in spec.get("aliases", []) if a in header and a not in names), None)
        if alias is not None:
            columns[name] = alias
            found.append((file, 1, name, "column-alias", "warning"))
        else:
            found.append((file, 1, name, "missing-column", "error"))
    found += [(file, 1, c, "unknown-column", "warning") for c in header if c not in columns.values()]
    return columns, found


ENGINES = ("streaming", "in-memory", "eager")


def check_file(
    path: Path, type_name: str, rules: Rules, keep: list[str], engine: str = "streaming"
) -> tuple[list[Finding], pl.DataFrame, int]:
    """The field problems of one file, its key columns (with row numbers) and its row count.

    The file is read once, every cell as text (quoted multi-line cells are one record), and two
    queries share it: the failing rows (one boolean column per rule) and the key columns. With the
    ``streaming`` engine Polars parses and checks the file in morsels on every core; ``in-memory``
    runs the same lazy plan on the whole file; ``eager`` reads the file first (``read_csv``).
    """
    schema = rules.tables[type_name]
    if engine == "eager":
        scan = pl.read_csv(path, infer_schema=False, encoding="utf8").lazy()
    else:
        scan = pl.scan_csv(path, infer_schema=False, encoding="utf8")
    scan = scan.with_row_index(ROW, offset=2)
    header = [c for c in scan.collect_schema().names() if c != ROW]
    columns, found = header_findings(path.name, schema, header)
    flags = field_flags(schema, rules.choices, columns)
    names = [columns[f["name"]] for f in schema["fields"] if f["name"] in columns]
    blank = pl.all_horizontal([_missing(pl.col(n)) for n in names]) if names else pl.lit(False)
    exprs = [e.alias(f"{i}") for i, (_, _, _, e) in enumerate(flags)]
    hits_query = (
        scan.with_columns(blank.alias(BLANK))
        .select(pl.col(ROW), *exprs)
        .filter(pl.any_horizontal(pl.col(f"{i}") for i in range(len(exprs))))
    )
    joined = rules.join_columns(type_name)
    keys_query = scan.select(
        pl.col(ROW),
        *(pl.col(columns[k]).cast(pl.Categorical if k in joined else pl.String).alias(k) for k in keep if k in columns),
    )
    hits, keys = pl.collect_all([hits_query, keys_query], engine="streaming" if engine == "streaming" else "in-memory")
    for i, (fld, rule, severity, _) in enumerate(flags):
        for row in hits.filter(pl.col(f"{i}")).get_column(ROW).to_list():
            found.append((path.name, row, fld or None, rule, severity))
    return found, keys, keys.height


# ------------------------------------------------------------------------------------- bundle rules


def _filled(*names: str) -> pl.Expr:
    return pl.all_horizontal([~_missing(pl.col(n)) for n in names])


def _cents(c: pl.Expr) -> pl.Expr:
    """Money text as whole cents; null where it is not a plain number (its own rule says so)."""
    return pl.when(c.str.contains(NUMBER)).then((c.cast(pl.Float64, strict=False) * 100).round(0))


def bundle_findings(rules: Rules, tables: dict[str, tuple[str, pl.DataFrame]]) -> list[Finding]:
    """Every rule of ``datapackage.json`` on the key columns of the files present."""
    found: list[Finding] = []

    def emit(type_name: str, frame: pl.DataFrame, fld: str, rule: str, severity: str) -> None:
        file = tables[type_name][0]
        found.extend((file, row, fld, rule, severity) for row in frame.get_column(ROW).to_list())

    for r in rules.resources:
        name = r["name"]
        if name not in tables:
            continue
        df = tables[name][1]
        keys = [{"fields": r["primaryKey"], "caseInsensitive": False}] if r.get("primaryKey") else []
        for key in keys + r.get("uniqueKeys", []):
            fields = key["fields"]
            if any(f not in df.columns for f in fields):
                continue
            cols = [pl.col(f).str.to_lowercase() if key.get("caseInsensitive") else pl.col(f) for f in fields]
            filled = df.filter(_filled(*fields))
            repeats = filled.filter(~pl.struct(cols).is_first_distinct())
            emit(name, repeats, fields[0], "unique", "error")
        for fk in r.get("foreignKeys", []):
            ref = fk["reference"]
            if ref["resource"] not in tables:
                continue
            parent = tables[ref["resource"]][1]
            if any(f not in df.columns for f in fk["fields"]) or any(f not in parent.columns for f in ref["fields"]):
                continue
            known = parent.filter(_filled(*ref["fields"])).select(ref["fields"]).unique()
            known = known.rename(dict(zip(ref["fields"], fk["fields"], strict=True)))
            dangling = df.filter(_filled(*fk["fields"])).join(known, on=fk["fields"], how="anti", nulls_equal=False)
            emit(name, dangling, fk["fields"][0], "foreign-key", "error")
        for check in r.get("consistency", []):
            found += consistency(name, check, r, df, tables, emit)
    return found


def consistency(
    name: str, check: dict[str, Any], resource: dict[str, Any], df: pl.DataFrame, tables: dict[str, Any], emit: Any
) -> list[Finding]:
    kind = check["check"]
    if kind == "same-value":
        fk = next(f for f in resource["foreignKeys"] if f["fields"] == check["via"])
        ref = check["reference"]
        if ref["resource"] not in tables:
            return []
        parent = tables[ref["resource"]][1]
        by = fk["reference"]["fields"]
        theirs = [f"__ref_{f}" for f in ref["fields"]]
        first = (
            parent.filter(_filled(*by))
            .unique(subset=by, keep="first", maintain_order=True)
            .select(
                *(pl.col(b).alias(v) for b, v in zip(by, check["via"], strict=True)),
                *(pl.col(f).alias(t) for f, t in zip(ref["fields"], theirs, strict=True)),
            )
        )
        linked = df.filter(_filled(*check["via"])).join(first, on=check["via"], how="inner")
        for mine, there in zip(check["fields"], theirs, strict=True):
            a, b = pl.col(mine), pl.col(there)
            if check.get("caseInsensitive"):
                a, b = a.str.to_lowercase(), b.str.to_lowercase()
            emit(name, linked.filter(_filled(mine, there) & (a != b)), mine, check["rule"], "warning")
    elif kind == "has-children":
        spec = check["children"]
        if spec["resource"] not in tables:
            return []
        children = tables[spec["resource"]][1]
        used = children.filter(_filled(*spec["fields"])).select(spec["fields"]).unique()
        used = used.rename(dict(zip(spec["fields"], check["fields"], strict=True)))
        lonely = df.filter(_filled(*check["fields"])).join(used, on=check["fields"], how="anti")
        emit(name, lonely, check["fields"][0], check["rule"], "warning")
    elif kind == "covers-children":
        spec = check["children"]
        if spec["resource"] not in tables:
            return []
        children = tables[spec["resource"]][1]
        line = _cents(pl.col(spec["price"])) * pl.col(spec["quantity"]).cast(pl.Float64, strict=False)
        totals = (
            children.filter(_filled(*spec["fields"]))
            .with_columns(line.alias("__line"))
            .filter(pl.col("__line").is_not_null() & pl.col("__line").is_not_nan())
            .group_by(spec["fields"])
            .agg(pl.col("__line").sum().alias("__items"))
            .rename(dict(zip(spec["fields"], check["fields"], strict=True)))
        )
        tolerance = round(float(check.get("tolerance", "0.01")) * 100)
        discount = _cents(pl.col(check["discount"])).fill_null(0) if check.get("discount") in df.columns else 0
        short = (
            df.filter(_filled(*check["fields"]))
            .join(totals, on=check["fields"], how="inner")
            .filter(_cents(pl.col(check["amount"])) - (pl.col("__items") - discount) < -tolerance)
        )
        emit(name, short, check["amount"], check["rule"], "warning")
    else:
        raise SystemExit(f"polars_baseline: unknown consistency check {kind!r}")
    return []


# ------------------------------------------------------------------------------------- the bundle


def bundle_files(folder: Path, rules: Rules) -> dict[str, Path]:
    """The CSV file of each type in ``folder``, by its stem (any case, as datapackage.json lists)."""
    files: dict[str, Path] = {}
    for path in sorted(folder.glob("*.csv")):
        stem = path.stem.lower()
        for r in rules.resources:
            if stem in [s.lower() for s in r.get("stems", [r["name"]])]:
                files[r["name"]] = path
    return files


def validate(
    folder: Path, schemas: Path | None = None, engine: str = "streaming"
) -> tuple[set[Finding], dict[str, int]]:
    """The set of (file, row, field, rule, severity) found in the CSV bundle ``folder``, and rows per file."""
    rules = Rules.load(schemas or default_schemas())
    found: list[Finding] = []
    tables: dict[str, tuple[str, pl.DataFrame]] = {}
    rows: dict[str, int] = {}
    for type_name, path in bundle_files(folder, rules).items():
        file_found, keys, n = check_file(path, type_name, rules, rules.key_columns(type_name), engine)
        found += file_found
        tables[type_name] = (path.name, keys)
        rows[path.name] = n
    found += bundle_findings(rules, tables)
    return set(found), rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--schemas", type=Path, help="rule files (default: the installed omnimig's)")
    parser.add_argument("--summary", action="store_true", help="print counts per rule, not every finding")
    parser.add_argument("--engine", choices=ENGINES, default="streaming", help="how files are read and checked")
    args = parser.parse_args(argv)
    found, rows = validate(args.folder, args.schemas, args.engine)
    ordered = sorted(found, key=lambda f: (f[0], f[1] or 0, f[2] or "", f[3]))
    if args.summary:
        counts: dict[str, int] = {}
        for f in ordered:
            counts[f"{f[0]} {f[3]}"] = counts.get(f"{f[0]} {f[3]}", 0) + 1
        print(json.dumps({"rows": rows, "found": len(found), "by_rule": counts}, indent=1))
    else:
        json.dump({"rows": rows, "problems": ordered}, sys.stdout)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
