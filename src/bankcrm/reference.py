"""Code lists of the extract format (SPEC section 3) shared by ingest, the generator and analytics."""

from __future__ import annotations

ROLES = ("rm", "team_lead", "branch_manager", "marketing", "compliance", "admin")
STAFF_LEVELS = ("junior", "senior", "private_banker")
GENDERS = ("M", "F")
OCCUPATIONS = (
    "executive",
    "professional",
    "civil_servant",
    "private_business",
    "employee",
    "worker",
    "farmer",
    "student",
    "retired",
    "other",
)
CUSTOMER_RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
PRODUCT_RISK_LEVELS = ("R1", "R2", "R3", "R4", "R5")
YES_NO = ("Y", "N")

ASSET_CATEGORIES = (
    "deposit_current",
    "deposit_time",
    "wealth",
    "fund",
    "insurance",
    "precious_metal",
    "bond",
)
LIABILITY_CATEGORIES = ("loan_mortgage", "loan_consumer", "loan_business", "credit_card")
SERVICE_CATEGORIES = ("debit_card", "mobile_banking", "payroll_service")
PRODUCT_CATEGORIES = ASSET_CATEGORIES + LIABILITY_CATEGORIES + SERVICE_CATEGORIES
# investment categories need a product risk level (R1..R5)
INVESTMENT_CATEGORIES = ("wealth", "fund", "insurance", "precious_metal", "bond")
DEPOSIT_CATEGORIES = ("deposit_current", "deposit_time")
LOAN_CATEGORIES = ("loan_mortgage", "loan_consumer", "loan_business")

TX_CHANNELS = ("counter", "atm", "mobile", "online", "pos", "auto")
TX_CATEGORIES = (
    "payroll",
    "transfer_in",
    "transfer_out",
    "purchase",
    "repayment",
    "fee",
    "interest",
    "investment",
    "redemption",
    "cash",
)
# transactions the bank books itself: excluded from customer-initiated activity
NON_CUSTOMER_TX_CATEGORIES = ("interest", "fee")
NON_CUSTOMER_TX_CHANNELS = ("auto",)

BEHAVIOR_EVENTS = (
    "app_login",
    "view_mortgage_rate",
    "view_fund",
    "view_insurance",
    "view_education",
    "view_wealth",
    "view_loan",
)
MERCHANT_GROUPS = ("baby", "education", "travel", "auto", "home", "medical", "dining", "grocery", "digital")

TIERS = ("vip", "potential", "ordinary")
VALUE_CLASSES = ("high_value", "micro_profit", "breakeven", "loss")
SEGMENTS = ("A", "B", "C", "D")

BUNDLE_TIMEZONE = "Asia/Shanghai"


def category_kind(category: str) -> str:
    """asset, liability or service."""
    if category in ASSET_CATEGORIES:
        return "asset"
    if category in LIABILITY_CATEGORIES:
        return "liability"
    if category in SERVICE_CATEGORIES:
        return "service"
    raise ValueError(f"unknown product category {category!r}")
