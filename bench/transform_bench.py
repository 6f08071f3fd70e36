"""Transform benchmark (issue 15, "Big exports"): how fast, and how big, ``omnimig transform shopify``
is on a Shopify orders export of N orders, against a plain pyarrow CSV parse of the same file and
the Polars script a good engineer would write for the same transform (``transform_polars.py``).

    python bench/transform_bench.py [--orders 60000] [--seed 1] [--repeat 3] [--quick] [--out DIR]
                                    [--profile] [--write-results]

1. Generates ``DIR/transform-N-sS/orders_export.csv`` (once, then reused): a Shopify orders export
   in the 79-column layout the shopify source reads. One row per line item (1-5 items, most orders
   have one or two, as the issue's 60,000-order export of 105,000 rows had); the order columns are
   filled on an order's first row only and its other rows repeat ``Name``, ``Email``, ``Created at``
   and the line item columns, as Shopify writes them; newest order first. Some orders are
   refunded, partially refunded, voided or cancelled, most buyers order more than once (sometimes
   typing their email in another case), names and addresses are Turkish, a few ``Note Attributes``
   cells hold line breaks, and about 1 order in 500 has no email (a POS sale, which the transform
   rejects with its items). Deterministic by ``--seed``; written row by row, so 1,000,000 orders
   take no more memory than 1,000.
2. Runs, interleaved and each its own process under ``/usr/bin/time -v`` (wall, CPU, peak RSS):
   ``omnimig transform shopify FILE --out DIR`` with the defaults a merchant gives for what Shopify
   does not export (so the bundle it writes validates clean), and a streamed pyarrow CSV parse of
   the same file (every column as text) as the reference for "reading the file", and (with the
   bench extra's Polars) ``transform_polars.py``, which must write omnimig's four files byte for
   byte (checked every round). Checks that the transform's ``rows read = written + merged +
   rejected`` holds and counts every generated row.
3. Prints a Markdown table (rows/s, peak memory, ratio to pyarrow); ``--profile`` adds one run under
   cProfile (top 10 omnimig functions by cumulative time, top 10 by own time and by calls); ``--write-results``
   appends all of it, with the command, to ``bench/RESULTS.md``.

Target (issue 15), at 1,000,000 orders on the shared 2-core machine: peak memory at most 2 GB and at
least 50,000 input rows per second. The shopify source streams the export and writes orders, items
and addresses a batch at a time (``transforms/stream.py``); what still grows with the export is what
the cross-record rules keep (users, order numbers, address digests) and the change log, kept as
Arrow columns: 1.68 GB at 1,000,000 orders (see RESULTS.md). After the runs, the bundle of the last
transform is validated alone: the step every transform ends with, and the floor under its speed.
Timings are measured here, never asserted in a test.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import PY, parser, sizes

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
TARGET_MB = 2048
TARGET_ROWS_PER_S = 50_000
TARGET_ORDERS = 1_000_000

#: The 79-column orders export layout (Shopify admin, Orders > Export), as in
#: tests/data/transform/shopify/orders_export.csv.
HEADER = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at", "Accepts Marketing",
    "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code", "Discount Amount", "Shipping Method",
    "Created at", "Lineitem quantity", "Lineitem name", "Lineitem price", "Lineitem compare at price",
    "Lineitem sku", "Lineitem requires shipping", "Lineitem taxable", "Lineitem fulfillment status", "Billing Name",
    "Billing Street", "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street", "Shipping Address1",
    "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip", "Shipping Province",
    "Shipping Country", "Shipping Phone", "Notes", "Note Attributes", "Cancelled at", "Payment Method",
    "Payment Reference", "Refunded Amount", "Vendor", "Outstanding Balance", "Employee", "Location", "Device ID",
    "Id", "Tags", "Risk Level", "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Tax 2 Name",
    "Tax 2 Value", "Tax 3 Name", "Tax 3 Value", "Tax 4 Name", "Tax 4 Value", "Tax 5 Name", "Tax 5 Value", "Phone",
    "Receipt Number", "Duties", "Billing Province Name", "Shipping Province Name", "Payment ID",
    "Payment Terms Name", "Next Payment Due At", "Payment References",
)  # fmt: skip
COL = {name: i for i, name in enumerate(HEADER)}
#: What Shopify repeats on an order's second and later rows (the rest of such a row is empty).
REPEATED = (
    "Name",
    "Email",
    "Created at",
    "Vendor",
    "Lineitem discount",
    *(n for n in HEADER if n.startswith("Lineitem ")),
)

# Sample data, not rules: Turkish names, places and products for the generated export.
FIRST = (
    "Ayşe", "Fatma", "Emine", "Hatice", "Zeynep", "Elif", "Şükran", "Gülşen", "Özlem", "Çiğdem",
    "Mehmet", "Mustafa", "Ahmet", "Ali", "Hüseyin", "İsmail", "Şükrü", "Oğuz", "Ümit", "Çağrı",
)  # fmt: skip
LAST = (
    "Yılmaz", "Kaya", "Demir", "Şahin", "Çelik", "Yıldız", "Yıldırım", "Öztürk", "Aydın", "Özdemir",
    "Arslan", "Doğan", "Kılıç", "Aslan", "Çetin", "Kara", "Koç", "Kurt", "Özkan", "Şimşek", "Ağaoğlu", "Işık",
)  # fmt: skip
ASCII = str.maketrans("çğıöşüÇĞİÖŞÜ", "cgiosuCGIOSU")
#: (province code, province, townships with their zip codes)
PLACES = (
    ("TR-34", "İstanbul", (("Kadıköy", "34710"), ("Şişli", "34380"), ("Üsküdar", "34662"), ("Beşiktaş", "34353"))),
    ("TR-06", "Ankara", (("Çankaya", "06420"), ("Keçiören", "06280"), ("Yenimahalle", "06170"))),
    ("TR-35", "İzmir", (("Bornova", "35040"), ("Karşıyaka", "35530"), ("Konak", "35250"))),
    ("TR-16", "Bursa", (("Nilüfer", "16110"), ("Osmangazi", "16040"))),
    ("TR-07", "Antalya", (("Muratpaşa", "07100"), ("Konyaaltı", "07070"))),
    ("TR-61", "Trabzon", (("Ortahisar", "61030"),)),
    ("TR-27", "Gaziantep", (("Şahinbey", "27010"), ("Şehitkamil", "27060"))),
)
STREETS = (
    "Bağdat Cad.", "Atatürk Bulvarı", "Cumhuriyet Cad.", "İstiklal Cad.", "Gazi Mustafa Kemal Bulvarı",
    "Kıbrıs Şehitleri Cad.", "Şehit Mehmet Sk.", "Çiçek Sk.", "Lale Sk.", "Fevzi Çakmak Cad.",
)  # fmt: skip
COMPANIES = ("", "", "", "", "", "", "Işık Ltd.", "Kaya Yazılım A.Ş.", "Öz Gıda San. Tic. A.Ş.")
PRODUCTS = (
    ('Kahve Fincanı "Lale", 2\'li set', "LALE-2", 45000),
    ("Türk Kahvesi 250 g", "TK-250", 34900),
    ("Işıklı Masa Lambası", "ISK-01", 29990),
    ("Ağaç Kaşık", "AGC-01", 6000),
    ("Şal, ipek", "SAL-IPK", 25000),
    ("Bakır Cezve", "CZV-1", 38000),
    ("Pamuklu Tişört", "TSH-PMK", 19990),
    ("Çelik Termos", "TRM-500", 54950),
    ("Yün Atkı", "ATK-YUN", 42000),
    ("Deri Cüzdan", "CZD-DRI", 79900),
    ("Defter A5", "DFT-A5", 7000),
    ("Seramik Kupa", "KUPA-01", 12500),
    ("Özel baskı kupa", "", 10000),  # no SKU: the transform warns (sku-empty)
)
ITEM_SIZES, ITEM_WEIGHTS = (1, 2, 3, 4, 5), (55, 25, 10, 6, 4)  # 1.79 rows per order, as in the issue
#: Financial Status and weights; "cancelled" is a paid or voided order with ``Cancelled at`` set.
STATUSES = ("paid", "pending", "authorized", "partially_refunded", "refunded", "voided", "cancelled", "partially_paid")
STATUS_WEIGHTS = (70, 8, 3, 4, 5, 2, 3, 1)
PAYMENT = ("iyzico", "iyzico", "iyzico", "Kapıda Ödeme", "Havale/EFT", "PayTR")
SHIPPING = (("Standart Kargo", 0), ("Standart Kargo", 0), ("Hızlı Kargo", 4990))
TAX_RATE = 20  # KDV, included in the prices
START = dt.datetime(2019, 1, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
SPAN_S = 5 * 365 * 24 * 3600


def _mix(seed: int, n: int) -> int:
    """A well-spread 64-bit number from (seed, n) (splitmix64): a buyer's details without a buyer table."""
    z = (seed * 0x9E3779B97F4A7C15 + n * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S %z")


class Buyer:
    """One customer, derived from its number alone, so the generator keeps no table of buyers."""

    __slots__ = ("company", "email", "first", "last", "phone", "places")

    def __init__(self, seed: int, number: int) -> None:
        h = _mix(seed, number)
        self.first = FIRST[h % len(FIRST)]
        self.last = LAST[(h >> 8) % len(LAST)]
        self.email = f"{self.first}.{self.last}{number}@example.com".translate(ASCII).lower()
        self.phone = f"'+90 5{30 + (h >> 16) % 30} {(h >> 24) % 900 + 100} {(h >> 34) % 90 + 10} {(h >> 41) % 90 + 10}"
        self.company = COMPANIES[(h >> 48) % len(COMPANIES)]
        self.places = [self._place(h >> 52), self._place(h >> 56)]  # home and, sometimes, work

    @staticmethod
    def _place(h: int) -> tuple[str, ...]:
        code, province, towns = PLACES[h % len(PLACES)]
        town, zip_code = towns[(h >> 3) % len(towns)]
        street = STREETS[(h >> 1) % len(STREETS)]
        line1, line2 = f"{street} No:{h % 180 + 1}", f"D:{h % 12 + 1}" if h % 3 else ""
        return (f"{line1}, {line2}" if line2 else line1, line1, line2, town, f"'{zip_code}", code, province)


@dataclass(slots=True)
class Order:
    """What an order's first row says beyond its line items."""

    number: int
    buyer: Buyer
    created: dt.datetime
    financial: str
    fulfilment: str
    cancelled: str
    subtotal: int
    discount: int
    method: str
    shipping: int
    refunded: int
    bill: tuple[str, ...]
    ship: tuple[str, ...]
    attrs: str

    @property
    def total(self) -> int:
        return self.subtotal - self.discount + self.shipping

    def columns(self) -> dict[str, str]:
        """The order-level columns, filled on the order's first row only."""
        n, total, tax = self.number, self.total, self.total * TAX_RATE // (100 + TAX_RATE)
        paid = self.financial in ("paid", "partially_refunded", "refunded")
        values = {
            "Financial Status": self.financial,
            "Paid at": _stamp(self.created) if paid else "",
            "Fulfillment Status": self.fulfilment,
            "Accepts Marketing": "yes" if n % 3 else "no",
            "Currency": "TRY",
            "Subtotal": _money(self.subtotal),
            "Shipping": _money(self.shipping),
            "Taxes": _money(tax),
            "Total": _money(total),
            "Discount Code": "YENIYIL" if self.discount else "",
            "Discount Amount": _money(self.discount),
            "Shipping Method": self.method,
            "Notes": "Kapıya bırakın, zili çalmayın." if n % 17 == 0 else "",
            "Note Attributes": self.attrs,
            "Cancelled at": self.cancelled,
            "Payment Method": PAYMENT[n % len(PAYMENT)],
            "Refunded Amount": _money(self.refunded),
            "Outstanding Balance": "0.00",
            "Id": str(5_600_000_000_000 + n),
            "Tags": "vip" if n % 23 == 0 else "",
            "Risk Level": "Low",
            "Source": "web",
            "Tax 1 Name": f"KDV {TAX_RATE}%",
            "Tax 1 Value": _money(tax),
            "Phone": self.buyer.phone if n % 4 else "",
            "Payment ID": f"c{n}",
            "Payment References": f"r{n}",
        }
        full = f"{self.buyer.first} {self.buyer.last}"
        for side, place in (("Billing", self.bill), ("Shipping", self.ship)):
            street, line1, line2, town, zip_code, code, province = place
            values |= {
                f"{side} Name": full,
                f"{side} Street": street,
                f"{side} Address1": line1,
                f"{side} Address2": line2,
                f"{side} Company": self.buyer.company,
                f"{side} City": town,
                f"{side} Zip": zip_code,
                f"{side} Province": code,
                f"{side} Country": "TR",
                f"{side} Phone": self.buyer.phone,
                f"{side} Province Name": province,
            }
        return values


def _order(rng: random.Random, seed: int, k: int, orders: int, buyers: int) -> tuple[Order, str, list[tuple]]:
    """The ``k``-th order of the export (newest first): the order, the email on its rows, its items."""
    n = 1000 + orders - k
    created = START + dt.timedelta(seconds=SPAN_S * (orders - k) // (orders + 1) + rng.randrange(60))
    buyer = Buyer(seed, rng.randrange(buyers))
    email = "" if rng.random() < 0.002 else buyer.email  # a POS sale without email
    if email and rng.random() < 0.05:
        email = email.capitalize()  # typed otherwise this time: orders still link by email
    items = []
    for _ in range(rng.choices(ITEM_SIZES, ITEM_WEIGHTS)[0]):
        name, sku, price = PRODUCTS[rng.randrange(len(PRODUCTS))]
        items.append((name, sku, price, rng.choice((1, 1, 1, 2, 3))))
    subtotal = sum(price * qty for _, _, price, qty in items)
    discount = subtotal // 10 if rng.random() < 0.1 else 0
    method, shipping = SHIPPING[rng.randrange(len(SHIPPING))]
    financial = rng.choices(STATUSES, STATUS_WEIGHTS)[0]
    cancelled = ""
    if financial == "cancelled":
        financial = rng.choice(("voided", "refunded"))
        cancelled = _stamp(created + dt.timedelta(hours=2))
    if cancelled or financial in ("pending", "authorized", "voided", "partially_paid"):
        fulfilment, item_status = ("unfulfilled" if rng.random() < 0.5 else ""), "pending"
    else:
        fulfilment = rng.choices(("fulfilled", "unfulfilled", "partial"), (80, 15, 5))[0]
        item_status = "pending" if fulfilment == "unfulfilled" else "fulfilled"
    bill = buyer.places[0]
    ship = buyer.places[1] if rng.random() < 0.2 else bill
    attrs = ""
    if buyer.company and rng.random() < 0.5:  # a line break inside a quoted cell
        attrs = f"vergi_dairesi: {bill[3]}\nvergi_no: {_mix(seed, n) % 9_000_000_000 + 1_000_000_000}"
    order = Order(
        n, buyer, created, financial, fulfilment, cancelled, subtotal, discount, method, shipping, 0, bill, ship, attrs
    )
    order.refunded = {"refunded": order.total, "partially_refunded": order.total // 3}.get(financial, 0)
    return order, email, [(*item, item_status) for item in items]


def write_export(path: Path, orders: int, seed: int) -> int:
    """Write a Shopify orders export of ``orders`` orders to ``path``, row by row; return its data rows."""
    rng = random.Random(seed)
    buyers = max(1, orders * 6 // 10)  # most buyers come back: about 1.7 orders per buyer
    width = len(HEADER)
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(HEADER)
        for k in range(orders):
            order, email, items = _order(rng, seed, k, orders, buyers)
            for i, (name, sku, price, qty, status) in enumerate(items):
                row = [""] * width
                if i == 0:
                    for column, value in order.columns().items():
                        row[COL[column]] = value
                row[COL["Name"]] = f"#{order.number}"
                row[COL["Email"]] = email
                row[COL["Created at"]] = _stamp(order.created)
                row[COL["Lineitem quantity"]] = str(qty)
                row[COL["Lineitem name"]] = name
                row[COL["Lineitem price"]] = _money(price)
                row[COL["Lineitem sku"]] = sku
                row[COL["Lineitem requires shipping"]] = "true"
                row[COL["Lineitem taxable"]] = "true"
                row[COL["Lineitem fulfillment status"]] = status
                row[COL["Vendor"]] = "Lale Ev"
                row[COL["Lineitem discount"]] = "0.00"
                out.writerow(row)
                rows += 1
    return rows


def make_export(out: Path, orders: int, seed: int) -> tuple[Path, int]:
    """The export for (orders, seed) and its data rows, generated once and reused."""
    base = out / f"transform-{orders}-s{seed}"
    path, meta = base / "orders_export.csv", base / "export.json"
    if meta.exists():
        return path, json.loads(meta.read_text())["rows"]
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    start = time.perf_counter()
    rows = write_export(path, orders, seed)
    took = time.perf_counter() - start
    print(
        f"generated {path}: {orders:,} orders, {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB in {took:.0f} s",
        file=sys.stderr,
    )
    meta.write_text(json.dumps({"orders": orders, "seed": seed, "rows": rows, "bytes": path.stat().st_size}))
    return path, rows


#: What a merchant gives for the fields Shopify does not export, so the bundle validates clean and
#: the run measures a transform that succeeds.
DEFAULTS = (
    "--password-policy", "unusable",
    "--default", "order.bank=-",
    "--default", "order.tracking_number=-",
    "--default", "order.shipping_company=yurtici",
    "--default", "user.sms_allowed=false",
)  # fmt: skip
#: The reference: a streamed pyarrow parse of every column as text (cells with line breaks allowed).
PYARROW = """
import csv, sys
import pyarrow as pa, pyarrow.csv as pc
path = sys.argv[1]
with open(path, encoding="utf-8", newline="") as f:
    names = next(csv.reader(f))
reader = pc.open_csv(
    path,
    parse_options=pc.ParseOptions(newlines_in_values=True),
    convert_options=pc.ConvertOptions(column_types={n: pa.string() for n in names}),
)
print(sum(batch.num_rows for batch in reader))
"""
#: The Polars script a good engineer would write (``transform_polars.py``) and the files it must write as omnimig does.
POLARS = "Polars script (same four files)"
TWIN_FILES = ("user.csv", "address.csv", "order.csv", "order_item.csv")
ACCOUNT = re.compile(r"([\d,]+) rows read = ([\d,]+) written \+ ([\d,]+) merged \+ ([\d,]+) rejected")
RECORDS = re.compile(r"^([a-z ]+): ([\d,]+) seen = ([\d,]+) written \+ ([\d,]+) merged \+ ([\d,]+) rejected$", re.M)
CODE = "import omnimig, sys; print(omnimig.__file__, file=sys.stderr); from omnimig.cli import app; app()"


def transform_command(path: Path, out: Path) -> list[str]:
    # --lang en: accounting() reads the English summary, whatever the machine's locale
    return [PY, "-c", CODE, "--lang", "en", "transform", "shopify", str(path), "--out", str(out), *DEFAULTS]


def validate_command(bundle: Path) -> list[str]:
    """``omnimig validate`` on a transform's written files: the step every transform ends with."""
    files = sorted(str(p) for p in bundle.iterdir() if p.stem in ("user", "address", "order", "order_item"))
    return [PY, "-c", CODE, "--lang", "en", "validate", *files]


def accounting(stdout: str) -> tuple[int, int, int, int]:
    """(read, written, merged, rejected) from the transform's summary; SystemExit when it does not add up."""
    found = ACCOUNT.search(stdout)
    if found is None:
        raise SystemExit(
            f"no 'rows read = written + merged + rejected' line in the transform's output:\n{stdout[:2000]}"
        )
    read, written, merged, rejected = (int(g.replace(",", "")) for g in found.groups())
    if read != written + merged + rejected:
        raise SystemExit(f"the transform lost rows: {found.group(0)}")
    for line in RECORDS.finditer(stdout):  # and each target type's records (orders: N seen = ...)
        seen, *fates = (int(g.replace(",", "")) for g in line.groups()[1:])
        if seen != sum(fates):
            raise SystemExit(f"the transform lost records: {line.group(0)}")
    return read, written, merged, rejected


def measure(cmd: Sequence[str], cwd: Path) -> tuple[float, float, float, str, str]:
    """(wall s, CPU s = user + system, max RSS MB, stdout, stderr) of one run under ``/usr/bin/time -v``.

    CPU time is reported besides wall time: on a shared machine the wall clock mostly measures
    the neighbours.
    """
    start = time.perf_counter()
    # ``cwd`` away from any checkout: ``python -c`` puts the working folder first on sys.path
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=cwd)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")

    def field(label: str) -> float:
        found = re.search(rf"{re.escape(label)}: ([0-9.]+)", proc.stderr)
        return float(found.group(1)) if found else float("nan")

    cpu = field("User time (seconds)") + field("System time (seconds)")
    return wall, cpu, field("Maximum resident set size (kbytes)") / 1024, proc.stdout, proc.stderr


PROFILE = """
import cProfile, json, pstats, sys
from omnimig.cli import app
sys.argv = ["omnimig", *sys.argv[1:]]
prof = cProfile.Profile()
prof.enable()
try:
    app()
except SystemExit:
    pass
prof.disable()
stats = pstats.Stats(prof)
rows = [(f"{file}:{line}({name})", nc, tt, ct) for (file, line, name), (cc, nc, tt, ct, _) in stats.stats.items()]
# the steps of one run: what transforms/run.py's _run calls, with the time spent under each call
run = [k for k in stats.stats if k[0].endswith("transforms/run.py") and k[2] == "_run"]
steps = [
    (f"{file}:{line}({name})", callers[run[0]][3])
    for (file, line, name), (_, _, _, _, callers) in stats.stats.items()
    if run and run[0] in callers
]
doc = {"calls": stats.total_calls, "seconds": stats.total_tt, "functions": rows, "steps": steps}
print(json.dumps(doc), file=sys.__stderr__)
"""


def _where(name: str) -> str:
    """A profiled function's place, short: ``omnimig/transforms/shopify.py:412(_order)``."""
    name = re.sub(r"^~:0\((.*)\)$", r"\1", name)  # a builtin: its name is enough
    name = re.sub(r"^.*/(omnimig/)", r"\1", name)
    name = re.sub(r"^.*/(site-packages|lib/python3\.\d+)/", "", name)
    return name.replace("|", "\\|")


def profile(path: Path, out: Path, cwd: Path, top: int = 10) -> str:
    """One transform under cProfile: Markdown tables of the top functions by cumulative time, own time, calls."""
    shutil.rmtree(out, ignore_errors=True)
    cmd = [PY, "-c", PROFILE, *transform_command(path, out)[3:]]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    if not last.startswith("{"):
        raise SystemExit(f"the profiled run failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    doc = json.loads(last)
    functions = doc["functions"]
    # below the command line: the typer and cli.py wrappers all have the whole run as cumulative time
    ours = [f for f in functions if "omnimig/" in f[0] and "omnimig/cli.py" not in f[0]]
    parts = [f"{doc['calls']:,} function calls, {doc['seconds']:.1f} s under cProfile."]
    steps = sorted(doc.get("steps", []), key=lambda s: s[1], reverse=True)
    if steps:  # the profile of transforms/run.py's _run, step by step
        whole = sum(t for _, t in steps) or 1.0
        lines = ["The steps of the run (what `transforms/run.py` `_run` calls, at least 0.1 s):", ""]
        lines += ["| step | s | share |", "|---|---:|---:|"]
        lines += [f"| `{_where(n)}` | {t:.2f} | {t / whole:.0%} |" for n, t in steps if t >= 0.1]
        parts.append("\n".join(lines))
    tables = (("omnimig functions by cumulative time", ours, 3), ("functions by own time", functions, 2))
    for title, chosen, key in (*tables, ("functions by calls", functions, 1)):
        lines = [f"Top {top} {title}:", "", "| function | calls | own s | cumulative s |", "|---|---:|---:|---:|"]
        for name, nc, tt, ct in sorted(chosen, key=lambda f: f[key], reverse=True)[:top]:
            lines.append(f"| `{_where(name)}` | {nc:,} | {tt:.2f} | {ct:.2f} |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def main() -> None:
    ap = parser(__doc__)
    ap.set_defaults(orders=60_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="also one run under cProfile (about 2x slower)")
    ap.add_argument("--write-results", action="store_true")
    args = ap.parse_args()
    orders, repeat = sizes(args)
    work = args.out.resolve()
    path, rows = make_export(work, orders, args.seed)
    size_mb = path.stat().st_size / 1e6
    bundle = path.parent / "bundle"
    twin = path.parent / "polars-bundle"
    contenders = {
        "omnimig transform shopify": transform_command(path, bundle),
        "pyarrow CSV parse": [PY, "-c", PYARROW, str(path)],
    }
    if importlib.util.find_spec("polars") is not None:  # the bench extra
        contenders[POLARS] = [PY, str(HERE / "transform_polars.py"), str(path), str(twin)]
    else:
        print("polars is not installed (pip install -e '.[bench]'): no Polars script in the table", file=sys.stderr)
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in contenders}
    account = (0, 0, 0, 0)
    floor = (0.0, 0.0, 0.0)
    for i in range(repeat):
        for name, cmd in contenders.items():
            shutil.rmtree(bundle if name.startswith("omnimig") else twin, ignore_errors=True)
            wall, cpu, rss, stdout, stderr = measure(cmd, path.parent)
            runs[name].append((wall, cpu, rss))
            if name.startswith("omnimig") and i == repeat - 1:
                floor = measure(validate_command(bundle), path.parent)[:3]
            module = stderr.splitlines()[0] if name.startswith("omnimig") and stderr else ""
            print(
                f"  run {i + 1}/{repeat} {name}: {wall:.2f} s, CPU {cpu:.2f} s, {rss:.0f} MB {module}", file=sys.stderr
            )
            if name == POLARS:  # the same work: the four files omnimig wrote in this round, byte for byte
                counted = int(stdout.split()[0].replace(",", ""))
                differ = [f for f in TWIN_FILES if (bundle / f).read_bytes() != (twin / f).read_bytes()]
                if differ:
                    raise SystemExit(f"the Polars script wrote other {', '.join(differ)} than omnimig did")
            else:
                counted = accounting(stdout)[0] if name.startswith("omnimig") else int(stdout.split()[-1])
            if name.startswith("omnimig"):
                account = accounting(stdout)
            if counted != rows:
                raise SystemExit(f"{name} counted {counted:,} rows; the export has {rows:,}")
    shutil.rmtree(twin, ignore_errors=True)
    wall = {n: statistics.median(w for w, _, _ in r) for n, r in runs.items()}
    cpu = {n: statistics.median(c for _, c, _ in r) for n, r in runs.items()}
    rss = {n: max(m for _, _, m in r) for n, r in runs.items()}
    ref = "pyarrow CSV parse"
    lines = [
        "| contender | rows | wall s (median) | all runs s | CPU s (median) | rows/s (wall) | rows/s (CPU) "
        "| max RSS MB | wall / pyarrow | RSS / pyarrow |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in contenders:
        every = ", ".join(f"{w:.2f}" for w, _, _ in runs[name])
        lines.append(
            f"| {name} | {rows:,} | {wall[name]:.2f} | {every} | {cpu[name]:.2f} | {rows / wall[name]:,.0f} "
            f"| {rows / cpu[name]:,.0f} | {rss[name]:.0f} | {wall[name] / wall[ref]:.1f}× "
            f"| {rss[name] / rss[ref]:.1f}× |"
        )
    table = "\n".join(lines)
    name = "omnimig transform shopify"
    read, written, merged, rejected = account
    verdict = (
        f"{orders:,} orders, {rows:,} rows, {size_mb:.0f} MB: {read:,} rows read = {written:,} written + {merged:,} "
        f"merged + {rejected:,} rejected. Transform: {rows / wall[name]:,.0f} rows/s wall, {rows / cpu[name]:,.0f} "
        f"rows/s CPU, {rss[name]:,.0f} MB peak (target at {TARGET_ORDERS:,} orders: at least {TARGET_ROWS_PER_S:,} "
        f"rows/s and at most {TARGET_MB:,} MB)"
    )
    floor_line = (
        f"Validating the written bundle alone, as every transform does last (`omnimig validate` on its four "
        f"files): {floor[0]:.2f} s wall, {floor[1]:.2f} s CPU, {floor[2]:,.0f} MB; with the parse, a transform "
        f"that did nothing else would read {rows / (floor[1] + cpu[ref]):,.0f} rows per CPU second"
    )
    if POLARS in contenders:
        verdict += (
            f"; against the Polars script writing the same four files: {wall[name] / wall[POLARS]:.1f}× its wall "
            f"time, {cpu[name] / cpu[POLARS]:.1f}× its CPU, {rss[name] / rss[POLARS]:.2f}× its memory "
            f"({rows / wall[POLARS]:,.0f} rows/s, {rss[POLARS]:,.0f} MB)"
        )
    print(table)
    print(verdict)
    print(floor_line)
    prof = profile(path, bundle, path.parent) if args.profile else ""
    shutil.rmtree(bundle, ignore_errors=True)
    if prof:
        print(prof)
    if args.write_results and not args.quick:
        stamp = f"{dt.date.today().isoformat()}, Python {platform.python_version()}, {platform.machine()}"
        command = f"python bench/transform_bench.py --orders {orders} --seed {args.seed} --repeat {repeat}"
        command += " --profile" if args.profile else ""
        section = (
            f"\n\n### Transform of a Shopify orders export ({orders:,} orders, issue 15)\n\n"
            f"`{command} --write-results` ({stamp}):\n"
            f"`omnimig transform shopify orders_export.csv --out DIR {' '.join(DEFAULTS)}` on a generated\n"
            f"79-column Shopify orders export, and a streamed pyarrow parse of the same file (every column as\n"
            f"text), interleaved, each its own process under `/usr/bin/time -v`.\n\n{table}\n\n{verdict}.\n\n"
            f"{floor_line}.\n"
        )
        if prof:
            section += f"\nOne more transform under cProfile: {prof}\n"
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(section)


if __name__ == "__main__":
    main()
