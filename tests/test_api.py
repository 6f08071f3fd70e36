"""The public API: complete and documented, not shadowed, layered, light to import, and what the CLI calls."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import omnimig
from omnimig import api
from omnimig.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
DOCS = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
FUNCTIONS = ("validate", "transform", "samples", "test_set", "upload", "fix")


def every_module() -> list[str]:
    """Every module of the package but ``__main__``, which runs the command line when imported."""
    return [m.name for m in pkgutil.walk_packages(omnimig.__path__, "omnimig.") if m.name != "omnimig.__main__"]


# --------------------------------------------------------------------------- names


def test_every_public_name_is_documented_and_every_documented_name_is_public() -> None:
    public = {n for n in omnimig.__all__ if not n.startswith("__")}
    documented = set(re.findall(r"\bomnimig\.([A-Za-z_]\w*)", DOCS))
    assert public - documented == set(), "public but not in docs/api.md"
    assert documented - public == set(), "in docs/api.md but not exported in __all__"


def test_every_name_in_all_resolves() -> None:
    for name in omnimig.__all__:
        assert getattr(omnimig, name) is not None
    assert set(omnimig.__all__) <= set(dir(omnimig))
    with pytest.raises(AttributeError):
        omnimig.no_such_name  # noqa: B018


def test_the_functions_stay_functions_after_every_subpackage_is_imported() -> None:
    """Importing ``omnimig.x`` binds attribute ``x`` on the package: no subpackage may take a function's name."""
    for name in every_module():
        importlib.import_module(name)
    for name in FUNCTIONS:
        value = getattr(omnimig, name)
        assert callable(value) and not isinstance(value, type(omnimig)), name
        assert value is getattr(api, name)


# --------------------------------------------------------------------------- layers and weight


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.startswith("omnimig")}


@pytest.mark.parametrize(
    ("layer", "allowed"),
    [
        ("schemas", ("omnimig.exceptions", "omnimig.i18n", "omnimig.schemas")),
        # omnimig.i18n imports nothing of omnimig (a bottom layer): the readers' messages go through it
        ("io", ("omnimig.exceptions", "omnimig.schemas", "omnimig.io", "omnimig.errors", "omnimig.i18n")),
    ],
)
def test_no_upward_import_from_the_bottom_layers(layer: str, allowed: tuple[str, ...]) -> None:
    for path in sorted((ROOT / "omnimig" / layer).rglob("*.py")):
        upward = {m for m in imports_of(path) if not m.startswith(allowed)}
        assert upward == set(), f"{path.relative_to(ROOT)} imports {sorted(upward)}"


def test_exceptions_module_imports_nothing_of_omnimig() -> None:
    assert imports_of(ROOT / "omnimig" / "exceptions.py") == set()


@pytest.mark.parametrize("statement", ["import omnimig", "import omnimig.cli", "import omnimig.schemas"])
def test_importing_the_package_or_the_cli_does_not_load_pandas_or_pyarrow(statement: str) -> None:
    code = f"{statement}; import sys; print(sorted(m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- one exception tree

#: Exceptions that never leave their module: control flow inside a reader or a normaliser.
INTERNAL = {"RowError", "NormaliseError", "ScanError"}


def test_every_public_exception_class_derives_from_the_one_root() -> None:
    strays = []
    for name in every_module():
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if (
                isinstance(value, type)
                and issubclass(value, Exception)  # a KeyboardInterrupt subclass (Ctrl-C at a prompt) stays one
                and value.__module__ == name
                and not attr.startswith("_")
                and attr not in INTERNAL
                and not issubclass(value, omnimig.Error)
            ):
                strays.append(f"{name}.{attr}")
    assert strays == []


def test_the_layer_bases_are_exported() -> None:
    for name in (
        "SchemaError",
        "UsageError",
        "ReadError",
        "WriteError",
        "TransformError",
        "SampleError",
        "UploadError",
    ):
        assert issubclass(getattr(omnimig, name), omnimig.Error)


# --------------------------------------------------------------------------- validate


@pytest.mark.parametrize("given", [str(SAMPLES), SAMPLES, [str(SAMPLES / "user.csv"), SAMPLES / "order.csv"]])
def test_validate_takes_a_string_a_pathlike_or_a_list(given: Any) -> None:
    report = omnimig.validate(given)
    assert report.valid and report.errors == 0 and report.exit_code == 0
    assert report.rows == sum(f.rows for f in report.files) > 0


def test_an_empty_list_is_a_usage_error() -> None:
    with pytest.raises(omnimig.UsageError, match="no file or folder given"):
        omnimig.validate([])


def test_an_unreadable_file_is_an_error_in_the_report_not_an_exception(tmp_path: Path) -> None:
    (tmp_path / "user.csv").write_bytes((SAMPLES / "user.csv").read_bytes())
    (tmp_path / "order.json").write_text("{not json", encoding="utf-8")
    report = omnimig.validate(tmp_path)
    assert not report.valid and report.exit_code == 2
    assert [p.rule for p in report.problems(file=str(tmp_path / "order.json"))] == ["unreadable"]
    assert report.errors == 1 and len(report.unreadable) == 1


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("broken")
    omnimig.samples(out, orders=30, seed=3, invalid_rate=0.1)
    return out


def test_problems_stream_every_counted_problem_and_filter(broken: Path) -> None:
    report = omnimig.validate(broken)
    everything = [p for p in report.problems() if p.severity != "note"]
    assert len(everything) == report.errors + report.warnings
    assert all(isinstance(p, omnimig.Problem) for p in everything)
    errors = list(report.problems(severity="error"))
    assert len(errors) == report.errors
    fk = list(report.problems(rule="foreign-key"))
    assert fk and all(p.rule == "foreign-key" for p in fk)
    orders = list(report.problems(type="order"))
    assert orders and all(p.type == "order" for p in orders)


def test_require_all_bundle_problems_are_problems_too(tmp_path: Path) -> None:
    (tmp_path / "user.csv").write_bytes((SAMPLES / "user.csv").read_bytes())
    report = omnimig.validate(tmp_path, require_all=True)
    missing = list(report.problems(rule="missing-file"))
    assert {p.type for p in missing} == {"address", "order", "order_item"}
    assert report.errors == 3 and report.exit_code == 1


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_write_makes_the_same_report_as_the_cli(broken: Path, tmp_path: Path, suffix: str) -> None:
    mine = omnimig.validate(broken).write(tmp_path / f"api{suffix}")
    theirs = tmp_path / f"cli{suffix}"
    result = CliRunner().invoke(app, ["validate", str(broken), "--report", str(theirs)])
    assert result.exit_code == 1
    assert mine.read_bytes() == theirs.read_bytes()
    assert mine.stat().st_mode & 0o777 == 0o600


def test_write_refuses_a_name_that_is_no_report(broken: Path, tmp_path: Path) -> None:
    with pytest.raises(omnimig.UsageError, match=r"\.xlsx, \.json or \.csv"):
        omnimig.validate(broken).write(tmp_path / "report.txt")


def test_render_json_counts_what_the_report_counts(broken: Path) -> None:
    import io

    report = omnimig.validate(broken)
    stream = io.StringIO()
    report.render("json", stream)
    summary = json.loads(stream.getvalue())["summary"]
    assert (summary["errors"], summary["warnings"], summary["rows"]) == (report.errors, report.warnings, report.rows)


def test_split_accounts_for_every_row(broken: Path, tmp_path: Path) -> None:
    report = omnimig.validate(broken)
    counts = report.split(tmp_path / "split")
    assert [c.rows for c in counts] == [f.rows for f in report.files]
    assert all(c.rows == c.ready + c.held for c in counts)
    assert omnimig.validate(tmp_path / "split" / "ready").valid


# --------------------------------------------------------------------------- the CLI is a thin client


@pytest.mark.parametrize(
    ("function", "args"),
    [
        ("validate", ["validate", str(SAMPLES)]),
        ("samples", ["samples", "--out", "{tmp}/s", "--orders", "3"]),
        ("test_set", ["samples", "--out", "{tmp}/t", "--test-set", str(SAMPLES)]),
        ("upload", ["upload", str(SAMPLES), "--url", "https://omnitron.example.com", "--channel", "5", "--dry-run"]),
        (
            "transform",
            ["transform", "shopify", str(ROOT / "tests/data/transform/shopify/orders_export.csv"), "--out", "{tmp}/b"],
        ),
        ("fix", ["fix", str(ROOT / "tests/data/fix"), "--out", "{tmp}/f"]),
    ],
)
def test_each_command_calls_its_api_function(
    function: str, args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []
    real = getattr(api, function)

    def spy(*a: Any, **k: Any) -> Any:
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(api, function, spy)
    result = CliRunner().invoke(app, [a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.exit_code in (0, 1), result.output
    assert len(calls) == 1


def test_transform_takes_the_flags_as_dicts(tmp_path: Path) -> None:
    result = omnimig.transform(
        "shopify",
        ROOT / "tests/data/transform/shopify/orders_export.csv",
        tmp_path / "b",
        defaults={"order.bank": "-"},
        values={"shipping_company": {"Standard Shipping": "yurtici"}},
    )
    assert result.adds_up and result.exit_code == (1 if result.rejects else 0)
    assert result.defaulted[("order", "bank")] == result.written["order"]
    with pytest.raises(omnimig.TransformError, match="unknown source"):
        omnimig.transform("magento", ROOT / "tests/data/transform/shopify/orders_export.csv", tmp_path / "c")
    with pytest.raises(omnimig.UsageError, match="export files to transform"):
        omnimig.transform("shopify", [], tmp_path / "c")
    with pytest.raises(omnimig.TransformError):
        omnimig.transform("shopify", [ROOT / "README.md"], tmp_path / "d", defaults={"order.nope": "x"})


def test_samples_refuse_what_cannot_be_made(tmp_path: Path) -> None:
    for kwargs in ({"orders": 0}, {"invalid_rate": 2.0}, {"locale": "xx_XX"}, {"format": "xml"}):
        with pytest.raises(omnimig.UsageError):
            omnimig.samples(tmp_path / "s", **kwargs)  # type: ignore[arg-type]


OWN_FILES = ("rejects.csv", "changes.csv", "expected_problems.json")


def folder_with_own_files(folder: Path, *migration_files: str) -> Path:
    """``folder`` holding copies of ``migration_files`` from samples/ and the files omnimig itself writes."""
    folder.mkdir(exist_ok=True)
    for name in migration_files:
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    for name in OWN_FILES:
        (folder / name).write_text("source_file,reason\nx,y\n", encoding="utf-8")
    return folder


def test_a_folder_validation_passes_over_omnimigs_own_files(tmp_path: Path) -> None:
    """rejects.csv, changes.csv (transform) and expected_problems.json (samples) are not migration files."""
    report = omnimig.validate(folder_with_own_files(tmp_path / "b", "order.csv", "order_item.csv"))
    assert report.skipped == [] and [Path(f.path).name for f in report.files] == ["order.csv", "order_item.csv"]


def test_under_type_every_file_is_that_type_but_omnimigs_own(tmp_path: Path) -> None:
    report = omnimig.validate(folder_with_own_files(tmp_path / "b", "order.csv"), type="order")
    assert [Path(f.path).name for f in report.files] == ["order.csv"]


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (lambda: omnimig.validate(None), omnimig.UsageError, "is not a path"),  # type: ignore[arg-type]
        (lambda: omnimig.validate(SAMPLES, type=3), omnimig.UsageError, "type 3"),  # type: ignore[arg-type]
        (lambda: omnimig.validate(SAMPLES, chunk_rows=0), omnimig.UsageError, "chunk_rows 0"),
        (lambda: omnimig.validate(SAMPLES, examples=-1), omnimig.UsageError, "examples -1"),
        (lambda: omnimig.validate(SAMPLES, header_row=0), omnimig.UsageError, "header_row 0"),
        (
            lambda: omnimig.transform(
                "shopify", ROOT / "tests/data/transform/shopify/orders_export.csv", "o", format="xml"
            ),
            omnimig.UsageError,
            "format 'xml'",
        ),
    ],
)
def test_bad_arguments_are_usage_errors_before_any_work(call: Any, error: type, says: str) -> None:
    """A script's mistake is one omnimig.Error naming the argument, never a TypeError or a hang."""
    with pytest.raises(error, match=re.escape(says)):
        call()


def test_bytes_is_one_path() -> None:
    assert omnimig.validate(bytes(SAMPLES)).valid


def test_what_the_system_refuses_is_a_write_error_naming_the_given_path(tmp_path: Path) -> None:
    report = omnimig.validate(SAMPLES)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x", encoding="utf-8")
    cases = [
        (lambda: report.write(tmp_path / "no" / "such" / "r.json"), str(tmp_path / "no" / "such" / "r.json")),
        (lambda: report.split(a_file), str(a_file)),
        (lambda: omnimig.samples(a_file, orders=3), str(a_file)),
        (lambda: omnimig.test_set(SAMPLES, a_file / "t"), str(a_file / "t")),
    ]
    for call, named in cases:
        with pytest.raises(omnimig.WriteError) as caught:
            call()
        assert str(caught.value).startswith(f"{named}: cannot "), str(caught.value)
        assert ".part" not in str(caught.value)


def test_upload_refused_and_the_exceptions_cost_no_heavy_import() -> None:
    code = (
        "import sys, omnimig; omnimig.UploadRefused; omnimig.UploadError; omnimig.WriteError; "
        "print(sorted(m for m in ('pandas', 'pyarrow', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_the_token_costs_neither_httpx_nor_pandas() -> None:
    """``omnimig.Token.from_env`` is how a script checks its token first: only an upload needs the http client."""
    code = (
        "import sys, omnimig; token = omnimig.Token.from_env('OMNIMIG_TEST_TOKEN'); "
        "print(repr(token), sorted(m for m in ('httpx', 'pandas', 'pyarrow', 'numpy') if m in sys.modules))"
    )
    env = {**os.environ, "OMNIMIG_TEST_TOKEN": "0123456789abcdef0123456789abcdef01234567"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env)
    assert out.stdout.strip() == "Token('***') []"


def test_the_token_module_imports_only_the_bottom_layers() -> None:
    """What keeps the test above true: ``credentials.py`` imports no other part of the uploader."""
    assert imports_of(ROOT / "omnimig" / "uploader" / "credentials.py") <= {"omnimig.exceptions", "omnimig.i18n"}


def test_upload_names_the_parameters_of_upload_bundle_with_the_same_defaults() -> None:
    """``omnimig.upload`` spells out ``upload_bundle``'s parameters (for ``help()``, IDEs): they must not drift."""
    from omnimig.uploader import upload_bundle

    def shape(function: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    assert shape(omnimig.upload) == shape(upload_bundle)
    keywords = [p for p in inspect.signature(omnimig.upload).parameters.values() if p.kind is p.KEYWORD_ONLY]
    assert len(keywords) > 20, "no **options: every keyword is named"
    for p in keywords:  # each one said in the docstring and on the docs page
        assert re.search(rf"``{p.name}\b", omnimig.upload.__doc__ or ""), f"{p.name}: not in the docstring"
        assert re.search(rf"\| `{p.name}`", DOCS), f"{p.name}: not in docs/api.md's table of keywords"
