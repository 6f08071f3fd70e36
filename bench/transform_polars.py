"""The Polars script a good engineer would write to turn a Shopify orders export into Akinon's four files.

    python bench/transform_polars.py EXPORT.csv OUT_DIR

The "real alternative" ``transform_bench.py`` measures ``omnimig transform shopify`` against (next
to a bare pyarrow parse): what one would write in an afternoon with a columnar engine, for the
bench's export and the options the bench passes. It does the transform's core work, a column at a
time on all cores:

- reads every column as text; an order is its run of rows with one ``Name``, the order columns
  are its first row's;
- trims and collapses whitespace (and NFC) in the cells it writes, lower-cases emails, strips the
  ``'`` Shopify puts before zip codes and phones;
- the status through omnimig's own table (``transforms/tables/shopify-status.toml``, read here, with
  the same key order: ``cancelled``, ``FINANCIAL/FULFILLMENT``, ``FINANCIAL``, ``*/FULFILLMENT``);
- ``Created at`` as ISO 8601; a user per email, named from its first order's Billing Name split at
  the last space, ``date_joined`` its earliest order; the phone as ten digits;
- each order side as an address (country code ``TR`` as ``Türkiye``, the Province Name as the
  city), de-duplicated per user on case-folded fields, and as the order's one-line address;
- ``extra_field`` as ``{"shopify": {...}}`` of the non-empty kept columns;
- orders without an email are dropped with their items (counted).

What it does not do, and ``omnimig transform`` does: a reason per record not written
(``rejects.csv``), a line per change of meaning (``changes.csv``), row and record accounting,
every cell checked against the field rules before writing and the bundle validated after,
customers exports, other encodings and layouts, malformed rows, Turkish case folding, scoped
rejection of a user's bad values. ``tests/test_transform_polars.py`` checks it writes what omnimig
writes on the bench's export, field by field, so the speed comparison is of the same output.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import polars as pl

from omnimig.transforms.finish import unusable_password  # --password-policy unusable, as the bench passes it
from omnimig.transforms.shopify import ITEM_EXTRA, ORDER_EXTRA  # the columns omnimig keeps in extra_field

ROOT = Path(__file__).resolve().parents[1]
STATUS_TABLE = ROOT / "omnimig" / "transforms" / "tables" / "shopify-status.toml"
PARTS = ("Name", "Address1", "Address2", "Street", "Company", "City", "Zip", "Country", "Phone", "Province Name")
KEEP_NEWLINES = ("Notes", "Note Attributes")
COUNTRIES = {"TR": "Türkiye"}
DEFAULTS = {"bank": "-", "tracking_number": "-", "shipping_company": "yurtici", "sms_allowed": "false"}


def clean(column: str | pl.Expr) -> pl.Expr:
    """Trimmed, whitespace runs as one space, NFC."""
    expr = pl.col(column) if isinstance(column, str) else column
    return expr.str.normalize("NFC").str.replace_all(r"\s+", " ").str.strip_chars()


def clean_lines(column: str) -> pl.Expr:
    """``clean`` line by line, line breaks kept, blank lines at either end dropped."""
    expr = pl.col(column).str.normalize("NFC").str.replace_all(r"\r\n?", "\n")
    expr = expr.str.replace_all(r"[^\S\n]+", " ").str.replace_all(r" ?\n ?", "\n")
    return expr.str.strip_chars(" ").str.strip_chars("\n")


def unmarked(column: str) -> pl.Expr:
    return clean(clean(column).str.strip_prefix("'"))


def fold(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all("İ", "i").str.replace_all("I", "ı").str.to_lowercase()


#: What JSON escapes: quotes, backslashes and control characters.
ESCAPED = r'["\\\x00-\x1f]'
#: Control characters ``clean`` leaves (the others are whitespace) and how ``json.dumps`` writes them.
CONTROLS = {chr(c): "\\b" if c == 8 else f"\\u{c:04x}" for c in (*range(0x00, 0x09), *range(0x0E, 0x1C))}


def json_string(value: pl.Expr) -> pl.Expr:
    """``value`` as a JSON string literal, as ``json.dumps(..., ensure_ascii=False)`` writes it."""
    for char, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"), *CONTROLS.items()):
        value = value.str.replace_all(char, escaped, literal=True)
    return value


def extra(columns: tuple[str, ...], present: list[str], escaped: set[str]) -> pl.Expr:
    """``{"shopify":{"Column":"value",…}}`` over the non-empty cells, as JSON writes them.

    ``escaped``: the columns with a cell JSON escapes (found once per file); the others are
    written as they are, as escaping every column costs more than all the rest.
    """
    pairs = []
    for name in columns:
        if name not in present:
            continue
        value = clean_lines(name) if name in KEEP_NEWLINES else clean(name)
        text = json_string(value) if name in escaped else value
        pairs.append(pl.when(value != "").then(pl.lit(f'"{name}":"') + text + pl.lit('",')))
    body = pl.concat_str(pairs, ignore_nulls=True).str.strip_suffix(",")
    return pl.when(body != "").then(pl.lit('{"shopify":{') + body + pl.lit("}}")).otherwise(pl.lit(""))


def status(table: dict[str, str]) -> pl.Expr:
    """The first key of the table that matches, in omnimig's key order."""
    financial = clean("Financial Status").str.to_lowercase()
    fulfillment = clean("Fulfillment Status").str.to_lowercase()
    fulfillment = pl.when(fulfillment == "").then(pl.lit("unfulfilled")).otherwise(fulfillment)
    codes = pl.lit(None, dtype=pl.String)
    for key in (pl.lit("*/") + fulfillment, financial, financial + "/" + fulfillment):  # last tried first
        codes = pl.coalesce(key.replace_strict(table, default=None, return_dtype=pl.String), codes)
    cancelled = table.get("cancelled")
    return pl.when(clean("Cancelled at") != "").then(pl.lit(cancelled)).otherwise(codes) if cancelled else codes


def iso(column: str) -> pl.Expr:
    moment = pl.col(column).str.strip_chars().str.to_datetime("%Y-%m-%d %H:%M:%S %z", strict=False)
    offset = pl.col(column).str.strip_chars().str.slice(-5)
    local = moment.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    hours = offset.str.slice(1, 2).cast(pl.Int64) * 60 + offset.str.slice(3, 2).cast(pl.Int64)
    minutes = pl.when(offset.str.starts_with("-")).then(-hours).otherwise(hours)
    shown = (local + pl.duration(minutes=minutes)).dt.strftime("%Y-%m-%dT%H:%M:%S")
    return shown + offset.str.slice(0, 3) + ":" + offset.str.slice(3, 2)


def phone(expr: pl.Expr) -> pl.Expr:
    digits = expr.str.replace_all(r"[^0-9]", "")
    return digits.str.replace(r"^(?:0090|90|0)", "").str.slice(-10)


def side(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """One side (Billing or Shipping) of each order: the address record and its one-line text."""
    col = {part: f"{name} {part}" for part in PARTS}
    person = clean(col["Name"])
    line = clean(pl.concat_str([pl.col(col["Address1"]), pl.col(col["Address2"])], separator=" "))
    line = pl.when(line != "").then(line).otherwise(clean(col["Street"]))
    code = clean(col["Country"])
    country = code.replace(COUNTRIES)
    city = clean(col["Province Name"])
    zip_city = clean(pl.concat_str([unmarked(col["Zip"]), city], separator=" "))
    parts = [person, clean(col["Company"]), line, clean(col["City"]), zip_city, country, unmarked(col["Phone"])]
    made = frame.lazy().select(
        "_order",
        pl.lit(0 if name == "Shipping" else 1).alias("_side"),
        "number",
        "user",
        *(p.alias(f"p{i}") for i, p in enumerate(parts)),
        city.alias("city"),
        person.str.extract(r"^(.*) [^ ]+$", 1).fill_null(person).alias("first_name"),
        person.str.extract(r" ([^ ]+)$", 1).fill_null("").alias("last_name"),
    )
    # The one-line text: the non-empty parts, a part said once (compared case-folded).
    made = made.with_columns(fold(pl.col(f"p{i}")).alias(f"f{i}") for i in range(len(parts)))
    kept = []
    for i in range(len(parts)):
        keep = pl.col(f"p{i}") != ""
        for j in range(i):
            keep = keep & (pl.col(f"f{i}") != pl.col(f"f{j}"))
        kept.append(pl.when(keep).then(pl.col(f"p{i}")))
    return made.with_columns(
        pl.concat_str(kept, separator=", ", ignore_nulls=True).alias("text"),
        ((pl.col("p2") != "") | (pl.col("p3") != "")).alias("present"),
    ).collect()


def transform(export: Path, out: Path) -> dict[str, int]:
    """Write user.csv, address.csv, order.csv and order_item.csv of ``export`` into ``out``; counts."""
    table = {
        k.strip().casefold(): v for k, v in tomllib.loads(STATUS_TABLE.read_text())["values"]["shopify_status"].items()
    }
    rows = pl.read_csv(export, infer_schema=False).fill_null("")
    present = rows.columns
    rows = rows.filter(pl.any_horizontal(pl.all().str.strip_chars() != ""))
    kept = [c for c in (*ORDER_EXTRA, *ITEM_EXTRA) if c in present]
    escaped = {c for c in kept if rows[c].str.contains(ESCAPED).any()}
    rows = rows.with_columns(pl.col("Name").rle_id().alias("_order"), clean("Name").alias("number"))
    heads = rows.unique("_order", keep="first", maintain_order=True)
    heads = heads.with_columns(clean("Email").str.to_lowercase().alias("user"))
    dropped = heads.filter(pl.col("user") == "")
    heads = heads.filter(pl.col("user") != "")
    items = rows.join(heads.select("_order"), on="_order", how="semi")
    heads = heads.with_columns(
        status(table).alias("status"),
        iso("Created at").alias("created_date"),
        (clean("Billing Name").replace("", None).fill_null(clean("Shipping Name"))).alias("buyer"),
    )
    sides = {name: side(heads, name) for name in ("Shipping", "Billing")}
    heads = heads.with_columns(sides["Shipping"]["text"].alias("_ship"), sides["Billing"]["text"].alias("_bill"))
    # A side without an address takes the other side's.
    shipping = pl.when(pl.col("_ship") != "").then("_ship").otherwise("_bill")
    billing = pl.when(pl.col("_bill") != "").then("_bill").otherwise("_ship")
    orders = (
        heads.lazy()
        .select(
            "number",
            "user",
            pl.col("user").alias("user_email"),
            "status",
            "created_date",
            clean("Total").alias("amount"),
            clean("Discount Amount").alias("discount_amount"),
            clean("Currency").str.to_uppercase().alias("currency"),
            clean("Payment Method").alias("payment_type"),
            pl.lit(DEFAULTS["bank"]).alias("bank"),
            pl.lit("").alias("installment_count"),
            pl.lit(DEFAULTS["tracking_number"]).alias("tracking_number"),
            pl.lit(DEFAULTS["shipping_company"]).alias("shipping_company"),
            shipping.alias("shipping_address"),
            billing.alias("billing_address"),
            extra(ORDER_EXTRA, present, escaped).alias("extra_field"),
        )
        .collect()
    )
    order_items = (
        items.lazy()
        .select(
            pl.col("number").alias("order_number"),
            clean("Lineitem name").alias("product"),
            clean("Lineitem sku").alias("sku"),
            clean("Lineitem quantity").alias("quantity"),
            clean("Lineitem price").alias("price"),
            pl.lit("").alias("image_url"),
            extra(ITEM_EXTRA, present, escaped).alias("extra_field"),
        )
        .collect()
    )
    first = heads.unique("user", keep="first", maintain_order=True)
    names = first.select(
        "user",
        pl.col("buyer").str.extract(r"^(.*) [^ ]+$", 1).fill_null(pl.col("buyer")).alias("first_name"),
        pl.col("buyer").str.extract(r" ([^ ]+)$", 1).fill_null("").alias("last_name"),
        clean("Accepts Marketing").str.to_lowercase().replace({"yes": "true", "no": "false"}).alias("email_allowed"),
        phone(pl.coalesce(unmarked("Phone").replace("", None), unmarked("Billing Phone"))).alias("phone"),
    )
    joined = heads.group_by("user").agg(
        pl.col("created_date").sort_by(pl.col("created_date").str.to_datetime("%Y-%m-%dT%H:%M:%S%:z")).first()
    )
    users = names.join(joined, on="user", how="left", maintain_order="left").select(
        pl.col("user").alias("customer_code"),
        "first_name",
        "last_name",
        pl.col("user").alias("email"),
        pl.lit("").alias("gender"),
        pl.lit(DEFAULTS["sms_allowed"]).alias("sms_allowed"),
        "email_allowed",
        "phone",
        pl.lit("").alias("date_of_birth"),
        pl.col("created_date").alias("date_joined"),
        pl.col("user").map_elements(unusable_password, return_dtype=pl.String).alias("password"),
        pl.lit("").alias("password_algorithm"),
    )
    # An order's shipping side, then its billing side, in file order: the first spelling seen is kept.
    both = pl.concat([sides["Shipping"], sides["Billing"]]).sort("_order", "_side").filter("present")
    both = both.join(
        users.select(
            pl.col("customer_code").alias("user"), pl.col("first_name").alias("uf"), pl.col("last_name").alias("ul")
        ),
        on="user",
        how="left",
        maintain_order="left",
    )
    addresses = both.select(
        "user",
        pl.col("user").alias("email"),
        pl.col("p6").alias("phone_number"),
        pl.when(pl.col("p0") != "").then("first_name").otherwise("uf").alias("first_name"),
        pl.when(pl.col("p0") != "").then("last_name").otherwise("ul").alias("last_name"),
        pl.lit("").alias("title"),
        pl.col("p2").alias("line"),
        pl.lit("").alias("tax_office"),
        pl.lit("").alias("tax_no"),
        pl.col("p5").alias("country"),
        "city",
        pl.col("p3").alias("township"),
        pl.lit("").alias("district"),
        pl.col("p1").alias("company_name"),
    )
    identity = [fold(pl.col(c)) for c in addresses.columns if c != "phone_number"]
    addresses = addresses.filter(pl.struct(*identity, phone(pl.col("phone_number"))).is_first_distinct())
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("user", users), ("address", addresses), ("order", orders), ("order_item", order_items)):
        # An empty cell as omnimig writes it (Polars quotes an empty string, to tell it from null), lines ended CRLF.
        frame.with_columns(pl.all().replace("", None)).write_csv(out / f"{name}.csv", line_terminator="\r\n")
    return {
        "rows": rows.height,
        "user": users.height,
        "address": addresses.height,
        "order": orders.height,
        "order_item": order_items.height,
        "rejected orders": dropped.height,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    counts = transform(Path(argv[0]), Path(argv[1]))
    print(", ".join(f"{v:,} {k}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
