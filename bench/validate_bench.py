"""Validation benchmark (issues 7 and 16): omnimig vs a pyarrow parse vs the Polars baseline vs
frictionless, in one run.

    python bench/validate_bench.py [--orders N] [--scale K] [--quick] [--out DIR] [--repeat R]
                                   [--frictionless-fraction F] [--write-results]
                                   [--frictionless-keys-only] [--no-polars] [--no-one-thread]

1. Generates a CSV bundle with the installed ``omnimig samples --invalid-rate 0.001`` (reused when
   DIR already holds one generated with the same arguments: see the stamp file ``.bench-stamp.json``).
2. Runs, each as a subprocess under ``/usr/bin/time -v`` (wall time, CPU time with the children's, and
   max RSS: the larger of time's figure and the sampled sum over the process tree, worker processes
   included):
   a. ``omnimig validate --format json DIR``, its problems compared with ``expected_problems.json``
      as an exact set of (file, row, field, rule, severity);
   b. a pyarrow parse of the same four files as text columns (``pyarrow.csv.read_csv``, every
      column typed string);
   c. frictionless, through ``omnimig.validation.reference`` (our Table Schemas plus our custom
      check), one type at a time on a slice: the first F of each file's rows. Its speed is
      extrapolated to the whole bundle, and the output says so;
   d. frictionless with the keys: the slice made consistent (the first F of the users, their
      addresses and orders, the items of those orders) and validated as one data package with our
      Table Schemas, ``AkinonCheck`` and the primaryKey/foreignKeys of ``datapackage.json`` (the
      email uniqueKey as a case-sensitive field ``unique`` constraint), also extrapolated;
   e. the Polars baseline ``bench/polars_baseline.py`` (every field and cross-file rule, generated
      from the rule files), its problems compared with the answer key like omnimig's;
   f. ``omnimig validate`` with ``OMNIMIG_THREADS=1`` (a, b, e and f interleaved round by round,
      ``--repeat`` rounds, so machine noise hits them alike; the medians are reported).
3. Prints a Markdown table and the ratios with the issue 7 and issue 16 targets marked met or not;
   ``--write-results`` writes them into the "## Validation with threads, against Polars (issue 16)"
   section at the end of ``bench/RESULTS.md``.

``--quick`` runs a tiny bundle (2,000 orders): it asserts nothing about time, only that every step
runs and the planted problems are found exactly. Any run exits 1 when found != planted.
Timings are measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
TYPES = ("user", "address", "order", "order_item")
INVALID_RATE = 0.001
SEED = 1
STAMP = ".bench-stamp.json"
GIB = 1024**3
T = TypeVar("T")

# Issue 7 targets (for 1,000,000 orders; the memory bound doubles for the 5x bundle).
TARGET_PARSE_RATIO = 3.0
TARGET_FRICTIONLESS_RATIO = 40.0
TARGET_RSS = {1: 1.5 * GIB, 5: 3 * GIB}
# Issue 16 targets: at least this much faster than the Polars baseline, at most this many times
# the pyarrow parse, and the memory bound (1 GB; 3 GB for the 5x bundle).
TARGET_POLARS_RATIO = 1.25
TARGET_PARSE_RATIO_16 = 2.5
TARGET_RSS_16 = {1: 1 * GIB, 5: 3 * GIB}
SECTION_16 = "## Validation with threads, against Polars (issue 16)"

PYARROW_SCRIPT = r"""
import csv, json, sys, time
t0 = time.perf_counter()
import pyarrow as pa
import pyarrow.csv as pc
t1 = time.perf_counter()
rows = {}
for path in sys.argv[1:]:
    with open(path, newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))
    table = pc.read_csv(
        path,
        parse_options=pc.ParseOptions(newlines_in_values=True),
        convert_options=pc.ConvertOptions(column_types={c: pa.string() for c in header}, strings_can_be_null=False),
    )
    rows[path] = table.num_rows
    del table
t2 = time.perf_counter()
print(json.dumps({"rows": rows, "import_s": t1 - t0, "parse_s": t2 - t1}))
"""

FRICTIONLESS_SCRIPT = r"""
import json, sys, time
TESTS = @TESTS@
from pathlib import Path
t0 = time.perf_counter()
sys.path.insert(0, TESTS)  # the frictionless reference is a test oracle: tests/reference.py
from reference import reference_findings
t1 = time.perf_counter()
found = reference_findings(Path(sys.argv[1]), sys.argv[2])
t2 = time.perf_counter()
errors = sum(f.severity == "error" for f in found)
print(json.dumps({"import_s": t1 - t0, "validate_s": t2 - t1, "findings": len(found), "errors": errors}))
"""


# Frictionless on the slice as one data package: our Table Schemas, the keys of datapackage.json
# (primaryKey, foreignKeys; the email uniqueKey as a case-sensitive field "unique" constraint, the
# only unique rule Frictionless v5 has) and AkinonCheck, validated with Package.validate.
FRICTIONLESS_PACKAGE_SCRIPT = r"""
import collections, json, sys, time, warnings
TESTS = @TESTS@
from pathlib import Path
t0 = time.perf_counter()
from frictionless import Checklist, Package
sys.path.insert(0, TESTS)
from reference import AkinonCheck, _resource, table_schema
t1 = time.perf_counter()
folder = Path(sys.argv[1])
keys = json.loads(sys.argv[2])
resources = []
for name, k in keys.items():
    schema = table_schema(name)
    if k.get("primaryKey"):
        schema.primary_key = k["primaryKey"]
    if k.get("foreignKeys"):
        schema.foreign_keys = k["foreignKeys"]
    for unique in k.get("unique", []):
        schema.get_field(unique).constraints["unique"] = True
    resource = _resource(folder / f"{name}.csv", ",", schema)
    resource.name = name
    resources.append(resource)
package = Package(resources=resources, basepath=str(folder.resolve()))
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    report = package.validate(Checklist(checks=[AkinonCheck()]), limit_errors=10**9)
t2 = time.perf_counter()
tasks = {}
for task in report.tasks:
    kinds = collections.Counter(e.type for e in task.errors)
    tasks[task.name] = {"rows": task.stats.get("rows"), "seconds": task.stats.get("seconds"), "errors": dict(kinds)}
print(json.dumps({
    "import_s": t1 - t0, "validate_s": t2 - t1, "tasks": tasks,
    "package_errors": [e.note for e in report.errors],
    "schemas": {r.name: {"primaryKey": r.schema.primary_key, "foreignKeys": r.schema.foreign_keys} for r in resources},
}))
"""


@dataclass
class Timed:
    """One subprocess run under /usr/bin/time -v."""

    wall: float
    rss: int  # bytes
    returncode: int
    stdout: str
    stderr: str
    cpu: float = 0.0  # user + system seconds


@dataclass
class Step:
    name: str
    rows: int
    wall: float
    rss: int
    problems: str = ""
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    cpu: float = 0.0  # user + system seconds; 0 when not measured (extrapolated steps)
    digest: str = ""  # sha256 of the report omnimig printed (one vs N threads must be byte-identical)

    @property
    def rate(self) -> float:
        return self.rows / self.wall if self.wall > 0 else float("nan")


# Where the frictionless reference lives (a test oracle, not part of the installed package).
_TESTS = repr(str(Path(__file__).resolve().parents[1] / "tests"))
FRICTIONLESS_SCRIPT = FRICTIONLESS_SCRIPT.replace("@TESTS@", _TESTS)
FRICTIONLESS_PACKAGE_SCRIPT = FRICTIONLESS_PACKAGE_SCRIPT.replace("@TESTS@", _TESTS)


def _seconds(text: str) -> float:
    """``h:mm:ss`` or ``m:ss.ss`` as seconds."""
    total = 0.0
    for part in text.split(":"):
        total = total * 60 + float(part)
    return total


def timed(cmd: list[str], ok_codes: tuple[int, ...] = (0,), env: dict[str, str] | None = None) -> Timed:
    """``cmd`` under /usr/bin/time -v; its memory is the larger of time's max RSS and the process tree's.

    /usr/bin/time reports the peak of one process; omnimig may run worker processes beside it
    (issue 16), so the resident memory of the whole tree (every descendant of the command, summed)
    is sampled every 20 ms too, and the larger figure is kept. CPU time includes the children's.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".time") as log:
        proc = subprocess.Popen(
            ["/usr/bin/time", "-v", "-o", log.name, *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=None if env is None else {**os.environ, **env},
        )
        sampler = TreeSampler(proc.pid)
        stdout, stderr = proc.communicate()
        tree = sampler.stop()
        report = Path(log.name).read_text()
    if proc.returncode not in ok_codes:
        sys.stderr.write(stderr[-4000:])
        raise SystemExit(f"bench: {' '.join(cmd[:3])} … exited {proc.returncode}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", report)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", report)
    if wall is None or rss is None:
        raise SystemExit(f"bench: cannot read /usr/bin/time output:\n{report}")
    cpu = sum(float(m) for m in re.findall(r"(?:User|System) time \(seconds\): (\S+)", report))
    peak = max(int(rss.group(1)) * 1024, tree)
    return Timed(_seconds(wall.group(1)), peak, proc.returncode, stdout, stderr, cpu)


class TreeSampler:
    """The peak of the summed resident memory of every descendant of ``root`` (not root itself: /usr/bin/time)."""

    def __init__(self, root: int, every: float = 0.02) -> None:
        self.root = root
        self.peak = 0
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            total = 0
            todo = _children(self.root)
            while todo:
                pid = todo.pop()
                try:
                    with open(f"/proc/{pid}/statm") as f:
                        total += int(f.read().split()[1]) * page
                except (OSError, ValueError, IndexError):
                    continue
                todo.extend(_children(pid))
            self.peak = max(self.peak, total)
            self._stop.wait(self._every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found.extend(int(c) for c in f.read().split())
    except (OSError, ValueError):
        pass
    return found


def omnimig_exe() -> str:
    exe = shutil.which("omnimig") or str(Path(sys.executable).with_name("omnimig"))
    if not Path(exe).exists():
        raise SystemExit("bench: the omnimig command is not installed (pip install -e .)")
    return exe


# ---------------------------------------------------------------------------------------------- data


def ensure_bundle(out: Path, orders: int) -> float | None:
    """Generate the bundle unless ``out`` already holds one made with the same arguments.

    Returns the generation wall time, or None when the bundle was reused.
    """
    wanted = {"orders": orders, "format": "csv", "seed": SEED, "invalid_rate": INVALID_RATE}
    stamp = out / STAMP
    files = [out / f"{t}.csv" for t in TYPES] + [out / "expected_problems.json"]
    if stamp.exists():
        try:
            same = json.loads(stamp.read_text()) == wanted
        except ValueError:
            same = False
        if same and all(f.exists() for f in files):
            print(f"bench: reusing the bundle in {out} ({STAMP} matches)", file=sys.stderr)
            return None
        for f in [*files, stamp]:
            f.unlink(missing_ok=True)
    elif out.exists() and any(out.iterdir()):
        raise SystemExit(f"bench: {out} is not empty and holds no {STAMP}; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    print(f"bench: generating {orders:,} orders into {out} …", file=sys.stderr)
    cmd = [omnimig_exe(), "samples", "--out", str(out), "--orders", str(orders), "--format", "csv"]
    cmd += ["--seed", str(SEED), "--invalid-rate", str(INVALID_RATE)]
    run = timed(cmd)
    print(f"bench: {run.stderr.strip().splitlines()[-1]} ({run.wall:.1f} s)", file=sys.stderr)
    stamp.write_text(json.dumps(wanted) + "\n")
    return run.wall


def warm_cache(paths: list[Path]) -> None:
    """Read every file once, so each measured step finds them in the page cache."""
    for path in paths:
        with path.open("rb") as f:
            while f.read(1 << 24):
                pass


def problem_key(p: dict[str, object]) -> tuple[str, object, object, object, object]:
    return (Path(str(p["file"])).name, p["row"], p["field"], p["rule"], p["severity"])


# --------------------------------------------------------------------------------------------- steps


def run_omnimig(out: Path, threads: int | None = None) -> tuple[Step, dict[str, int], bool, list[str]]:
    """``omnimig validate --format json`` (with ``OMNIMIG_THREADS=threads`` when given)."""
    env = None if threads is None else {"OMNIMIG_THREADS": str(threads)}
    run = timed([omnimig_exe(), "validate", "--format", "json", str(out)], ok_codes=(0, 1), env=env)
    doc = json.loads(run.stdout)
    found = [problem_key(p) for f in doc["files"] for p in f["problems"]]
    planted = [problem_key(p) for p in json.loads((out / "expected_problems.json").read_text())]
    found_set, planted_set = set(found), set(planted)
    same = found_set == planted_set
    notes = []
    if len(found) != len(found_set):
        notes.append(f"omnimig reported {len(found) - len(found_set)} problems twice")
    notes += _differences(planted_set, found_set)
    bundle_errors = doc.get("bundle", {}).get("errors", [])
    if bundle_errors:
        notes.append(f"bundle errors: {bundle_errors}")
    rows = {Path(f["path"]).stem: f["rows"] for f in doc["files"]}
    verdict = "= planted" if same else "≠ planted"
    problems = f"{len(found_set):,} found / {len(planted_set):,} planted ({verdict})"
    name = "omnimig validate" if threads is None else f"omnimig validate, OMNIMIG_THREADS={threads}"
    digest = hashlib.sha256(run.stdout.encode()).hexdigest()
    step = Step(name, sum(rows.values()), run.wall, run.rss, problems, cpu=run.cpu, digest=digest)
    return step, rows, same, notes


def _differences(planted: set[tuple[object, ...]], found: set[tuple[object, ...]]) -> list[str]:
    notes = []
    missing = sorted(planted - found, key=repr)
    extra = sorted(found - planted, key=repr)
    for label, items in (("missed", missing), ("not planted", extra)):
        if items:
            shown = "; ".join(map(str, items[:5]))
            notes.append(f"{len(items)} {label}: {shown}{' …' if len(items) > 5 else ''}")
    return notes


def run_polars(out: Path) -> tuple[Step, bool, list[str]]:
    """The Polars baseline on the bundle; its (file, row, field, rule, severity) set vs the answer key."""
    run = timed([sys.executable, str(HERE / "polars_baseline.py"), str(out)], ok_codes=(0, 1))
    doc = json.loads(run.stdout)
    found = {tuple(p) for p in doc["problems"]}
    planted = {problem_key(p) for p in json.loads((out / "expected_problems.json").read_text())}
    same = found == planted
    problems = f"{len(found):,} found / {len(planted):,} planted ({'= planted' if same else '≠ planted'})"
    step = Step(
        "Polars baseline (bench/polars_baseline.py)",
        sum(doc["rows"].values()),
        run.wall,
        run.rss,
        problems,
        cpu=run.cpu,
    )
    return step, same, [f"Polars baseline: {n}" for n in _differences(planted, found)]


def run_pyarrow(paths: list[Path]) -> tuple[Step, dict[str, int]]:
    run = timed([sys.executable, "-c", PYARROW_SCRIPT, *map(str, paths)])
    doc = json.loads(run.stdout)
    rows = {Path(p).stem: n for p, n in doc["rows"].items()}
    note = f"The pyarrow process spent {doc['import_s']:.2f} s importing, {doc['parse_s']:.2f} s parsing"
    step = Step("pyarrow parse (text columns)", sum(rows.values()), run.wall, run.rss, "—", note, cpu=run.cpu)
    step.extra = {"parse_s": doc["parse_s"]}
    return step, rows


def write_slice(source: Path, target: Path, rows: int) -> int:
    """The header and the first ``rows`` records of ``source``, byte-compatible with our writer."""
    written = 0
    with source.open(newline="", encoding="utf-8") as src, target.open("w", newline="", encoding="utf-8") as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst, lineterminator="\r\n")
        writer.writerow(next(reader))
        for record in reader:
            if written >= rows:
                break
            writer.writerow(record)
            written += 1
    return written


def run_frictionless(out: Path, rows: dict[str, int], fraction: float) -> tuple[Step, Step, list[str]]:
    """Frictionless per type on a slice; returns the measured slice and the extrapolated whole."""
    slice_rows = 0
    wall = 0.0
    inner = 0.0
    whole = 0.0
    rss = 0
    errors = 0
    notes = []
    with tempfile.TemporaryDirectory(prefix="omnimig-bench-") as tmp:
        for t in TYPES:
            part = Path(tmp) / f"{t}.csv"
            n = write_slice(out / f"{t}.csv", part, max(1, math.ceil(fraction * rows[t])))
            run = timed([sys.executable, "-c", FRICTIONLESS_SCRIPT, str(part), t])
            doc = json.loads(run.stdout)
            slice_rows += n
            wall += run.wall
            inner += doc["validate_s"]
            rss = max(rss, run.rss)
            errors += doc["errors"]
            # Extrapolate the validation itself (imports excluded: that favours frictionless).
            whole += doc["validate_s"] * rows[t] / n
            notes.append(
                f"{t}: {n:,} rows, validate {doc['validate_s']:.1f} s ({n / doc['validate_s']:,.0f} rows/s), "
                f"import {doc['import_s']:.1f} s, {doc['errors']} errors"
            )
            part.unlink()
    total = sum(rows[t] for t in TYPES)
    measured = Step(
        f"frictionless, {fraction:.0%} slice (measured)",
        slice_rows,
        wall,
        rss,
        f"{errors:,} errors in the slice",
        f"4 processes, one per type; validation alone {inner:.1f} s ({slice_rows / inner:,.0f} rows/s)",
    )
    measured.extra = {"validate_s": inner}
    extrapolated = Step(
        "frictionless, whole bundle (extrapolated)",
        total,
        whole,
        0,
        "—",
        "per type: slice validation time × rows / slice rows; imports and key checks not included",
    )
    return measured, extrapolated, notes


def package_keys() -> dict[str, dict[str, object]]:
    """primaryKey, foreignKeys and the unique fields of each resource in our datapackage.json."""
    from omnimig.schemas.rules import schema_dir

    doc = json.loads((schema_dir() / "datapackage.json").read_text(encoding="utf-8"))
    keys: dict[str, dict[str, object]] = {}
    for res in doc["resources"]:
        keys[res["name"]] = {
            "primaryKey": res.get("primaryKey", []),
            "foreignKeys": res.get("foreignKeys", []),
            "unique": [f for u in res.get("uniqueKeys", []) for f in u["fields"]],
            "caseInsensitive": [f for u in res.get("uniqueKeys", []) if u.get("caseInsensitive") for f in u["fields"]],
        }
    return keys


def write_consistent_slice(out: Path, target: Path, fraction: float) -> dict[str, int]:
    """A slice whose foreign keys resolve: the first ``fraction`` of the users, the addresses and
    orders of those users, the items of those orders (each file's rows kept in file order)."""
    users = _count_records(out / "user.csv")
    written: dict[str, int] = {}
    written["user"] = write_slice(out / "user.csv", target / "user.csv", max(1, math.ceil(fraction * users)))
    codes = _column(target / "user.csv", "customer_code")
    written["address"] = _write_where(out / "address.csv", target / "address.csv", "user", codes)
    written["order"] = _write_where(out / "order.csv", target / "order.csv", "user", codes)
    numbers = _column(target / "order.csv", "number")
    written["order_item"] = _write_where(out / "order_item.csv", target / "order_item.csv", "order_number", numbers)
    return written


def _count_records(path: Path) -> int:
    """CSV records after the header (a cell may hold a line break, so not a line count)."""
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def _column(path: Path, name: str) -> set[str]:
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        i = next(reader).index(name)
        return {r[i] for r in reader if len(r) > i}


def _write_where(source: Path, target: Path, name: str, keep: set[str]) -> int:
    written = 0
    with source.open(newline="", encoding="utf-8") as src, target.open("w", newline="", encoding="utf-8") as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst, lineterminator="\r\n")
        header = next(reader)
        writer.writerow(header)
        i = header.index(name)
        for record in reader:
            if len(record) > i and record[i] in keep:
                writer.writerow(record)
                written += 1
    return written


def run_frictionless_keys(out: Path, rows: dict[str, int], fraction: float) -> tuple[Step, Step, list[str]]:
    """Frictionless on a consistent slice as one data package with the keys; measured and extrapolated."""
    keys = package_keys()
    with tempfile.TemporaryDirectory(prefix="omnimig-bench-keys-") as tmp:
        n = write_consistent_slice(out, Path(tmp), fraction)
        load = os.getloadavg()[0]
        run = timed([sys.executable, "-c", FRICTIONLESS_PACKAGE_SCRIPT, tmp, json.dumps(keys)])
        load_after = os.getloadavg()[0]
    doc = json.loads(run.stdout)
    slice_rows = sum(n.values())
    total = sum(rows[t] for t in TYPES)
    kinds: dict[str, int] = {}
    for task in doc["tasks"].values():
        for kind, count in task["errors"].items():
            kinds[kind] = kinds.get(kind, 0) + count
    errors = sum(kinds.values())
    listed = ", ".join(f"{c:,} {k}" for k, c in sorted(kinds.items())) or "none"
    checked = ", ".join(
        f"{t}: primaryKey {doc['schemas'][t]['primaryKey'] or '—'}, foreignKeys "
        + (
            "; ".join(
                f"{fk['fields']} → {fk['reference']['resource']}.{fk['reference']['fields']}"
                for fk in doc["schemas"][t]["foreignKeys"]
            )
            or "—"
        )
        for t in TYPES
    )
    insensitive = sorted({f for k in keys.values() for f in k["caseInsensitive"]})  # type: ignore[union-attr]
    measured = Step(
        f"frictionless with keys, consistent {fraction:.0%} slice (measured)",
        slice_rows,
        run.wall,
        run.rss,
        f"{errors:,} errors in the slice",
    )
    measured.extra = {"validate_s": doc["validate_s"]}
    whole = doc["validate_s"] * total / slice_rows
    extrapolated = Step("frictionless with keys, whole bundle (extrapolated)", total, whole, 0, "—")
    per_type = "; ".join(
        f"{t} {n[t]:,} rows ({n[t] / rows[t]:.1%} of the file), {doc['tasks'][t]['seconds']} s, "
        f"{sum(doc['tasks'][t]['errors'].values()):,} errors"
        for t in TYPES
    )
    notes = [
        f"Frictionless with keys ran once, as one data package (`Package.validate` with `AkinonCheck`), on a "
        f"consistent slice: the first {fraction:.0%} of the users, then only the addresses and orders whose user "
        f"is in that slice, then only the items whose order is in that slice (so every foreign key can resolve). "
        f"Per resource (Frictionless' own task timer; the lookups for foreign keys re-read the referenced file): "
        f"{per_type}. Whole process {run.wall:.2f} s, of which import {doc['import_s']:.2f} s and validation "
        f"{doc['validate_s']:.2f} s ({slice_rows / doc['validate_s']:,.0f} rows/s); load average (1 min) before "
        f"and after: {load:.2f} and {load_after:.2f}.",
        f"Keys checked by Frictionless: {checked}; field `unique` on "
        f"{', '.join(f for k in keys.values() for f in k['unique']) or '—'} "  # type: ignore[union-attr]
        f"(Frictionless v5 has no `uniqueKeys` and no case-insensitive comparison, so the case-insensitive "
        f"{', '.join(insensitive) or '—'} key is checked case-sensitively, a weaker rule than omnimig's). "
        f"Not expressible in Frictionless and not run: our consistency checks (same-value, has-children, "
        f"covers-children). Errors found: {listed}.",
        f"Its whole-bundle time is the validation time (import excluded) × {total:,} / {slice_rows:,} rows: this "
        "assumes the key checks grow linearly (hash sets and re-reads of the referenced files), which holds for "
        "Frictionless' in-memory lookups while they fit in memory.",
    ]
    if doc["package_errors"]:
        notes.append(f"Frictionless package errors: {doc['package_errors']}")
    return measured, extrapolated, notes


# ------------------------------------------------------------------------------------------- report


def mb(n: int) -> str:
    return f"{n / 1024**2:,.0f} MB" if n else "—"


def table(steps: list[Step]) -> str:
    lines = [
        "| step | rows | wall s | rows/s | CPU s | max RSS | problems found vs planted |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for s in steps:
        cpu = f"{s.cpu:.2f}" if s.cpu else "—"
        lines.append(f"| {s.name} | {s.rows:,} | {s.wall:.2f} | {s.rate:,.0f} | {cpu} | {mb(s.rss)} | {s.problems} |")
    return "\n".join(lines)


def machine() -> str:
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import frictionless
    import pyarrow

    versions = f"pyarrow {pyarrow.__version__}, frictionless {frictionless.__version__}"
    return f"{os.cpu_count()} cores ({cpu}), {mem / GIB:.0f} GB, Python {platform.python_version()}, {versions}"


def git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(HERE), "status", "--porcelain", "--", "../omnimig"], capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes under omnimig/" if dirty else "")


def targets(
    omnimig: Step, parse: Step, friction: Step, same: bool, scale: int, orders: int, keyed: Step | None = None
) -> list[str]:
    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    parse_ratio = omnimig.wall / parse.wall
    friction_ratio = friction.wall / omnimig.wall
    keyed_ratio = keyed.wall / omnimig.wall if keyed is not None else friction_ratio
    limit = TARGET_RSS[5] if scale >= 5 else TARGET_RSS[1]
    decimal = limit / GIB * 1e9
    if omnimig.rss <= decimal:
        rss_verdict = verdict(True)
    elif omnimig.rss <= limit:
        rss_verdict = "**met only reading GB as GiB**"
    else:
        rss_verdict = verdict(False)
    lines = [
        "| issue 7 target | this run | |",
        "|---|---|---|",
        f"| wall ≤ {TARGET_PARSE_RATIO:g}× the pyarrow parse | omnimig / pyarrow = {omnimig.wall:.2f} s / "
        f"{parse.wall:.2f} s = **{parse_ratio:.1f}×** | {verdict(parse_ratio <= TARGET_PARSE_RATIO)} |",
        f"| ≥ {TARGET_FRICTIONLESS_RATIO:g}× faster than frictionless | "
        + (
            f"with keys (extrapolated) / omnimig = {keyed.wall:.0f} s / {omnimig.wall:.2f} s = "
            f"**{keyed_ratio:.1f}×**; without keys: "
            if keyed is not None
            else "frictionless (extrapolated) / omnimig = "
        )
        + f"{friction.wall:.0f} s / {omnimig.wall:.2f} s = **{friction_ratio:.1f}×** | "
        f"{verdict(keyed_ratio >= TARGET_FRICTIONLESS_RATIO)} |",
        f"| max RSS ≤ {limit / GIB:g} GB{' (5× bundle)' if scale >= 5 else ''} | {mb(omnimig.rss)} "
        f"(MB = 2²⁰ bytes; the limit is {mb(int(limit))} reading GB as GiB, {mb(int(decimal))} as 10⁹ bytes) | "
        f"{rss_verdict} |",
        f"| exactly the planted problems | {omnimig.problems} | {verdict(same)} (default chunk size here; "
        "`tests/test_chunking.py` checks chunk sizes 1 to 300 on a small planted bundle) |",
    ]
    if scale < 5:
        lines.append("| 5× bundle under 3 GB | not run here (`--scale 5`) | — |")
    if orders != 1_000_000 * scale:
        lines.append(f"\nThe targets are stated for {1_000_000 * scale:,} orders; this run used {orders:,}.")
    return lines


def targets_16(omnimig: Step, parse: Step, polars: Step | None, one: Step | None, same: bool, scale: int) -> list[str]:
    """The issue 16 targets, each marked met or not, from the medians of the interleaved rounds."""

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    limit = TARGET_RSS_16[5] if scale >= 5 else TARGET_RSS_16[1]
    decimal = limit / GIB * 1e9
    parse_ratio = omnimig.wall / parse.wall
    lines = ["| issue 16 target | this run (medians) | |", "|---|---|---|"]
    if polars is not None:
        speed = polars.wall / omnimig.wall
        lines.append(
            f"| ≥ {TARGET_POLARS_RATIO:g}× faster than the Polars baseline | Polars / omnimig = {polars.wall:.2f} s / "
            f"{omnimig.wall:.2f} s = **{speed:.2f}×** (CPU: {polars.cpu:.2f} s / {omnimig.cpu:.2f} s = "
            f"{polars.cpu / omnimig.cpu:.2f}×) | {verdict(speed >= TARGET_POLARS_RATIO)} |"
        )
    lines.append(
        f"| ≤ {TARGET_PARSE_RATIO_16:g}× the pyarrow parse | omnimig / pyarrow = {omnimig.wall:.2f} s / "
        f"{parse.wall:.2f} s = **{parse_ratio:.2f}×** | {verdict(parse_ratio <= TARGET_PARSE_RATIO_16)} |"
    )
    rss_ok = "**met**" if omnimig.rss <= decimal else "**met only reading GB as GiB**" if omnimig.rss <= limit else ""
    lines.append(
        f"| max RSS ≤ {limit / GIB:g} GB | {mb(omnimig.rss)} (the limit is {mb(int(limit))} reading GB as GiB, "
        f"{mb(int(decimal))} as 10⁹ bytes) | {rss_ok or verdict(False)} |"
    )
    lines.append(
        f"| exactly the planted problems, any thread count | {omnimig.problems} | {verdict(same)} (every round, "
        "threads as run and 1, JSON reports byte-identical; `tests/test_parallel.py` and `tests/test_chunking.py` "
        "check byte-identical reports for 1/2/4 threads, worker processes and many chunk sizes) |"
    )
    if one is not None:
        lines.append(
            f"| (not a target) threads vs one thread | OMNIMIG_THREADS=1 / `{omnimig.name}` = {one.wall:.2f} s / "
            f"{omnimig.wall:.2f} s = {one.wall / omnimig.wall:.2f}× | — |"
        )
    return lines


def report(
    command: str,
    orders: int,
    scale: int,
    fraction: float,
    steps: list[Step],
    same: bool,
    notes: list[str],
    gen_wall: float | None,
    load: tuple[float, float],
    polars: Step | None = None,
    one: Step | None = None,
) -> str:
    omnimig, parse, _, friction = steps[:4]
    keyed = steps[5] if len(steps) > 5 else None
    rows = omnimig.rows
    shown = [omnimig, *([one] if one is not None else []), parse, *([polars] if polars is not None else []), *steps[2:]]
    out = [
        f"### {orders:,} orders (scale {scale}), {rows:,} rows in four CSV files",
        "",
        f"`{command}` — measured {dt.date.today().isoformat()} on {machine()}; omnimig at {git_commit()}.",
        "",
        table(shown),
        "",
        *targets_16(omnimig, parse, polars, one, same, scale),
        "",
        *targets(omnimig, parse, friction, same, scale, orders, keyed),
        "",
        "Notes:",
        "",
        f"- Every step is a separate process under `/usr/bin/time -v`, files warm in the page cache; wall times "
        f"include interpreter start and imports; CPU time includes child processes, and max RSS is the larger "
        f"of /usr/bin/time's figure and the process tree's sampled sum (omnimig's worker processes included). "
        f"{parse.note}. Load average (1 min) before and after the timed "
        f"omnimig/pyarrow steps: {load[0]:.2f} and {load[1]:.2f} (on {os.cpu_count()} cores, shared with other "
        "work); the figures are only as good as the machine was idle.",
        (
            f"- Frictionless ran on a slice, not the whole bundle: the first {fraction:.0%} of each file's rows "
            if fraction < 1
            else "- Frictionless ran on the whole files "
        )
        + "(header kept), one type per process, with our Table Schemas and `AkinonCheck` "
        "(`omnimig.validation.reference`). Its whole-bundle time is extrapolated from the validation time of each "
        "file or slice alone, so it leaves out frictionless' import time and the unique/foreign-key checks omnimig "
        "does; both favour frictionless. The planted defects follow the valid rows, so a small leading slice holds "
        "none of them (frictionless' error count above is a sanity check only).",
        *(
            f"  - {n}"
            for n in notes
            if not n.startswith(("omnimig", "Polars", "Frictionless with keys", "Keys", "Its whole"))
        ),
    ]
    out += [f"- {n}" for n in notes if n.startswith(("Frictionless with keys", "Keys", "Its whole"))]
    out += [f"- {n}" for n in notes if n.startswith(("omnimig", "Polars"))]
    if gen_wall is not None:
        out.append(f"- Generating the bundle (`omnimig samples`, not part of the figures) took {gen_wall:.0f} s.")
    return "\n".join(out) + "\n"


def write_results(subsection: str) -> None:
    """Replace (or add) this bundle size's subsection of "## Validation"; leave the rest of the file."""
    text = RESULTS.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("## Validation")), None)
    if start is None:
        lines += ["\n"] if lines and lines[-1].strip() else []
        start = len(lines)
        end = start
        old: list[str] = []
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        old = lines[start + 1 : end]
    # Keep the other bundle sizes' subsections; drop the old free text of the section.
    kept: dict[str, str] = {}
    current = None
    for line in old:
        if line.startswith("### "):
            current = line.split("),")[0]
            kept[current] = ""
        if current is not None:
            kept[current] += line
    heading = subsection.splitlines()[0].split("),")[0]
    kept[heading] = subsection + "\n"
    intro = (
        "## Validation (issue 7)\n\n"
        "`bench/validate_bench.py` generates a CSV bundle with `omnimig samples --invalid-rate 0.001`,\n"
        "then runs `omnimig validate --format json`, a pyarrow parse of the same files as text columns\n"
        "and frictionless (our schemas, on a slice: per file without keys, and as a consistent data package\n"
        "with the primary and foreign keys), and writes one subsection per bundle size below.\n"
        "`--quick` is the small-scale smoke run (no timing asserted; exit 1 unless found = planted).\n\n"
    )

    def size(heading: str) -> int:
        digits = re.sub(r"[^0-9]", "", heading.split(" orders")[0])
        return int(digits) if digits else sys.maxsize  # hand-written notes (profiles) go last

    body = "\n".join(kept[h].strip() + "\n" for h in sorted(kept, key=size))
    section = intro + body
    tail = lines[end:]
    if tail and not section.endswith("\n\n"):
        section += "\n"
    RESULTS.write_text("".join(lines[:start]) + section + "".join(tail), encoding="utf-8")


def _median(items: list[T], step: Callable[[T], Step]) -> T:
    """The item whose step has the median wall time (the lower middle for an even count)."""
    return sorted(items, key=lambda x: step(x).wall)[(len(items) - 1) // 2]


def write_section_16(subsection: str) -> None:
    """Replace (or append at the end) the issue 16 section with this run; leave the rest of the file."""
    intro = (
        f"{SECTION_16}\n\n"
        "`bench/validate_bench.py` runs `omnimig validate --format json` (threads as configured or `--threads N`,\n"
        "and with `OMNIMIG_THREADS=1`), the pyarrow parse and the Polars baseline (`bench/polars_baseline.py`) in\n"
        "interleaved rounds on one CSV bundle, then frictionless on a slice as in the issue 7 section, and\n"
        "writes the medians, the ratios and the targets of issues 16 and 7 here.\n\n"
    )
    old = RESULTS.read_text(encoding="utf-8")
    start = old.find(SECTION_16)
    text = intro + subsection.rstrip("\n") + "\n"
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        after = old.find("\n## ", start + len(SECTION_16))
        new = old[:start] + text + ("\n" + old[after + 1 :] if after >= 0 else "")
    RESULTS.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the bundle (default 1,000,000)")
    parser.add_argument("--scale", type=int, default=1, help="multiply --orders by K (5 for the 5x memory target)")
    parser.add_argument("--quick", action="store_true", help="tiny bundle (2,000 orders); checks found == planted")
    parser.add_argument("--out", type=Path, help="bundle folder (default bench/out/validate-<orders>)")
    parser.add_argument("--frictionless-fraction", type=float, default=0.1, help="slice for frictionless (0.1)")
    parser.add_argument("--write-results", action="store_true", help="write the figures into bench/RESULTS.md")
    parser.add_argument("--repeat", type=int, default=1, help="run omnimig and pyarrow N times; report the median")
    parser.add_argument("--no-polars", action="store_true", help="leave out the Polars baseline")
    parser.add_argument("--no-one-thread", action="store_true", help="leave out omnimig with OMNIMIG_THREADS=1")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="run the main omnimig step with OMNIMIG_THREADS=N (default: as configured, i.e. the idle CPUs)",
    )
    parser.add_argument(
        "--frictionless-keys-only",
        action="store_true",
        help="only run frictionless with the keys on the consistent slice and print its rows (no omnimig)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.frictionless_fraction <= 1:
        parser.error("--frictionless-fraction must be in (0, 1]")
    if args.scale < 1:
        parser.error("--scale must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    orders = (2_000 if args.quick else args.orders) * args.scale
    out = args.out or HERE / "out" / f"validate-{orders}"
    command = "python bench/validate_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])

    gen_wall = ensure_bundle(out, orders)
    paths = [out / f"{t}.csv" for t in TYPES]
    warm_cache(paths)
    if args.frictionless_keys_only:
        counts = {t: _count_records(out / f"{t}.csv") for t in TYPES}
        keyed_slice, keyed, notes = run_frictionless_keys(out, counts, args.frictionless_fraction)
        print(table([keyed_slice, keyed]) + "\n\n" + "\n".join(f"- {n}" for n in notes))
        return 0
    load = os.getloadavg()[0]
    parses: list[Step] = []
    runs: list[tuple[Step, dict[str, int], bool, list[str]]] = []
    ones: list[tuple[Step, dict[str, int], bool, list[str]]] = []
    polars_runs: list[tuple[Step, bool, list[str]]] = []
    for i in range(args.repeat):
        # One round: every contender once, in the same order each round (noise hits them alike).
        print(f"bench: round {i + 1}/{args.repeat}: pyarrow parse …", file=sys.stderr)
        parse, parsed_rows = run_pyarrow(paths)
        parses.append(parse)
        if not args.no_polars:
            print(f"bench: {parse.wall:.2f} s; Polars baseline …", file=sys.stderr)
            polars_runs.append(run_polars(out))
            print(f"bench: {polars_runs[-1][0].wall:.2f} s", file=sys.stderr)
        print("bench: omnimig validate …", file=sys.stderr)
        runs.append(run_omnimig(out, threads=args.threads))
        print(f"bench: {runs[-1][0].wall:.2f} s", file=sys.stderr)
        if not args.no_one_thread:
            print("bench: omnimig validate, OMNIMIG_THREADS=1 …", file=sys.stderr)
            ones.append(run_omnimig(out, threads=1))
            print(f"bench: {ones[-1][0].wall:.2f} s", file=sys.stderr)
    # The median run of each (by wall time) goes into the tables; every run must find the planted set.
    parse = _median(parses, lambda x: x)
    omnimig, rows, _, notes = _median(runs, lambda r: r[0])
    one = _median(ones, lambda r: r[0])[0] if ones else None
    polars = _median(polars_runs, lambda r: r[0])[0] if polars_runs else None
    same = all(r[2] for r in runs + ones) and all(r[1] for r in polars_runs)
    for r in ones:
        notes += [f"omnimig with OMNIMIG_THREADS=1: {n}" for n in r[3] if not r[2]]
    for r in polars_runs:
        notes += r[2]
    if args.repeat > 1:

        def walls(steps: list[Step]) -> str:
            return ", ".join(f"{x.wall:.2f}" for x in steps)

        extra = f"; one-thread walls: {walls([r[0] for r in ones])} s" if ones else ""
        extra += f"; Polars walls: {walls([r[0] for r in polars_runs])} s" if polars_runs else ""
        notes.append(
            f"omnimig validate, the pyarrow parse{', the Polars baseline' if polars_runs else ''} ran {args.repeat} "
            f"times, interleaved; the tables show the median run of each. omnimig walls: "
            f"{walls([r[0] for r in runs])} s (max RSS up to {mb(max(r[0].rss for r in runs))}); pyarrow walls: "
            f"{walls(parses)} s{extra}; found = planted in {sum(r[2] for r in runs)} of {args.repeat} runs"
        )
    if ones:
        same_json = sum(a[0].digest == b[0].digest for a, b in zip(runs, ones, strict=True))
        notes.append(
            f"The JSON report of `{runs[0][0].name}` was byte-identical (sha256) to the one with "
            f"OMNIMIG_THREADS=1 in {same_json} of {len(ones)} rounds."
        )
        same = same and same_json == len(ones)
    load_after = os.getloadavg()[0]
    print("bench: frictionless on a slice …", file=sys.stderr)
    if parsed_rows != rows:
        notes.append(f"omnimig and pyarrow count different rows: {rows} vs {parsed_rows}")
    friction_slice, friction, fnotes = run_frictionless(out, rows, args.frictionless_fraction)
    print("bench: frictionless with keys on a consistent slice …", file=sys.stderr)
    keyed_slice, keyed, knotes = run_frictionless_keys(out, rows, args.frictionless_fraction)
    fnotes += knotes
    steps = [omnimig, parse, friction_slice, friction, keyed_slice, keyed]
    text = report(
        command.strip(),
        orders,
        args.scale,
        args.frictionless_fraction,
        steps,
        same,
        fnotes + notes,
        gen_wall,
        (load, load_after),
        polars,
        one,
    )
    print(text)
    if args.write_results:
        write_section_16(text)
        print(f"bench: wrote {RESULTS}", file=sys.stderr)
    if not same:
        print("bench: FAILED — the problems found are not exactly the planted ones", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
