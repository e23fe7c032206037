"""The extract bundle's files, columns, keys and foreign keys (SPEC section 3), as data."""

from __future__ import annotations

from dataclasses import dataclass, field

from bankcrm import reference as ref

# rejection reasons, in order of precedence when a row has several faults
MISSING_REQUIRED = "missing_required"
BAD_TYPE = "bad_type"
INVALID_VALUE = "invalid_value"
ID_CHECKSUM = "id_checksum"
BAD_PHONE = "bad_phone"
UNKNOWN_KEY = "unknown_key"
DUPLICATE_KEY = "duplicate_key"
REASONS = (MISSING_REQUIRED, BAD_TYPE, INVALID_VALUE, ID_CHECKSUM, BAD_PHONE, UNKNOWN_KEY, DUPLICATE_KEY)

# warnings: the row is accepted, with a note
UNKNOWN_RM = "unknown_rm"


@dataclass(frozen=True)
class Column:
    """One column of an extract file.

    kinds: str, enum, yn (Y/N), skills (';'-separated product categories), date, ts (ISO 8601 with
    offset), money (decimal, two places), int, float, id_number, phone.
    """

    name: str
    kind: str = "str"
    required: bool = False
    choices: tuple[str, ...] = ()
    default: str | None = None
    # plaintext must not reach the lake (encrypted in the DB, or pseudonymised)
    sensitive: bool = False


@dataclass(frozen=True)
class ForeignKey:
    column: str
    parent: str  # file (and table) the key must exist in
    # an unknown key only warns (the value is dropped) instead of rejecting the row
    warning: str | None = None


@dataclass(frozen=True)
class FileSpec:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    optional: bool = False
    master: bool = True
    # columns required only when a condition over other columns holds: (column, SQL condition)
    conditional_required: tuple[tuple[str, str], ...] = field(default=())

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def parents(self) -> tuple[str, ...]:
        """Files whose failure stops this one; a warning-only key (rm_id) is checked against what is stored."""
        return tuple(sorted({fk.parent for fk in self.foreign_keys if fk.parent != self.name and not fk.warning}))


def _in_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


BRANCHES = FileSpec(
    "branches",
    (
        Column("branch_id", required=True),
        Column("name", required=True),
        Column("city"),
        Column("parent_id"),
    ),
    key=("branch_id",),
    foreign_keys=(ForeignKey("parent_id", "branches"),),
)

STAFF = FileSpec(
    "staff",
    (
        Column("staff_id", required=True),
        Column("name", required=True),
        Column("role", "enum", required=True, choices=ref.ROLES),
        Column("branch_id", required=True),
        Column("level", "enum", choices=ref.STAFF_LEVELS),
        Column("skills", "skills"),
        Column("team_id"),
        Column("capacity", "int"),
    ),
    key=("staff_id",),
    foreign_keys=(ForeignKey("branch_id", "branches"),),
    optional=True,
)

CUSTOMERS = FileSpec(
    "customers",
    (
        Column("customer_id", required=True),
        Column("name", required=True, sensitive=True),
        Column("gender", "enum", required=True, choices=ref.GENDERS),
        Column("birth_date", "date", required=True),
        Column("id_number", "id_number", required=True, sensitive=True),
        Column("phone", "phone", required=True, sensitive=True),
        Column("city"),
        Column("occupation", "enum", choices=ref.OCCUPATIONS),
        Column("income_monthly", "money"),
        Column("onboard_date", "date", required=True),
        Column("branch_id", required=True),
        Column("rm_id"),
        Column("marketing_consent", "yn", default="N"),
        Column("risk_level", "enum", choices=ref.CUSTOMER_RISK_LEVELS),
        Column("risk_assessed_on", "date"),
        Column("address", sensitive=True),
        Column("email", sensitive=True),
    ),
    key=("customer_id",),
    foreign_keys=(ForeignKey("branch_id", "branches"), ForeignKey("rm_id", "staff", warning=UNKNOWN_RM)),
)

PRODUCTS = FileSpec(
    "products",
    (
        Column("product_id", required=True),
        Column("name", required=True),
        Column("category", "enum", required=True, choices=ref.PRODUCT_CATEGORIES),
        Column("risk_level", "enum", choices=ref.PRODUCT_RISK_LEVELS),
        Column("term_days", "int"),
        Column("expected_yield", "float"),
        Column("is_agency", "yn", default="N"),
    ),
    key=("product_id",),
    conditional_required=(("risk_level", f"category IN ({_in_list(ref.INVESTMENT_CATEGORIES)})"),),
)

ACCOUNTS = FileSpec(
    "accounts",
    (
        Column("account_id", required=True),
        Column("customer_id", required=True),
        Column("product_id", required=True),
        Column("opened_on", "date", required=True),
        Column("maturity_on", "date"),
        Column("closed_on", "date"),
        Column("next_due_on", "date"),
        Column("amount_due", "money"),
        Column("days_past_due", "int"),
        Column("account_number", sensitive=True),
    ),
    key=("account_id",),
    foreign_keys=(ForeignKey("customer_id", "customers"), ForeignKey("product_id", "products")),
)

BALANCES = FileSpec(
    "balances",
    (
        Column("account_id", required=True),
        Column("date", "date", required=True),
        Column("balance", "money", required=True),
    ),
    key=("account_id", "date"),
    foreign_keys=(ForeignKey("account_id", "accounts"),),
    master=False,
)

TRANSACTIONS = FileSpec(
    "transactions",
    (
        Column("tx_id", required=True),
        Column("account_id", required=True),
        Column("ts", "ts", required=True),
        Column("amount", "money", required=True),
        Column("channel", "enum", required=True, choices=ref.TX_CHANNELS),
        Column("category", "enum", required=True, choices=ref.TX_CATEGORIES),
        Column("merchant_group"),
        Column("counterparty", sensitive=True),
    ),
    key=("tx_id",),
    foreign_keys=(ForeignKey("account_id", "accounts"),),
    master=False,
)

BEHAVIOR_EVENTS = FileSpec(
    "behavior_events",
    (
        Column("customer_id", required=True),
        Column("ts", "ts", required=True),
        Column("event", required=True),
    ),
    key=("customer_id", "ts", "event"),
    foreign_keys=(ForeignKey("customer_id", "customers"),),
    master=False,
)

# dependency order: a file's parents always come before it
FILES: tuple[FileSpec, ...] = (BRANCHES, STAFF, CUSTOMERS, PRODUCTS, ACCOUNTS, BALANCES, TRANSACTIONS, BEHAVIOR_EVENTS)
FILES_BY_NAME = {f.name: f for f in FILES}


def dependants(failed: set[str]) -> set[str]:
    """Files that must not load because a file they reference (directly or not) failed."""
    out = set(failed)
    for spec in FILES:
        if any(p in out for p in spec.parents):
            out.add(spec.name)
    return out - failed
