"""Branches, staff and the product catalogue: small tables built row by row."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from bankcrm.synth import vocab


@dataclass(frozen=True)
class Product:
    product_id: str
    name: str
    category: str
    risk_level: str | None
    term_days: int | None
    expected_yield: float | None
    is_agency: str


def _p(pid: str, name: str, cat: str, risk: str | None, term: int | None, yld: float | None, agency: str) -> Product:
    return Product(pid, name, cat, risk, term, yld, agency)


# A catalogue in the shape of a mid-sized city commercial bank's shelf.
PRODUCTS: tuple[Product, ...] = (
    _p("PDC001", "个人活期储蓄", "deposit_current", None, None, 0.0015, "N"),
    _p("PDT090", "整存整取定期存款3个月", "deposit_time", None, 90, 0.0125, "N"),
    _p("PDT180", "整存整取定期存款6个月", "deposit_time", None, 180, 0.0145, "N"),
    _p("PDT365", "整存整取定期存款1年", "deposit_time", None, 365, 0.0165, "N"),
    _p("PDT730", "整存整取定期存款2年", "deposit_time", None, 730, 0.0185, "N"),
    _p("PDT1095", "大额存单3年期", "deposit_time", None, 1095, 0.0235, "N"),
    _p("PWM090", "稳享固收理财90天", "wealth", "R2", 90, 0.0280, "N"),
    _p("PWM180", "安盈半年定开理财", "wealth", "R2", 180, 0.0310, "N"),
    _p("PWM365", "卓越一年期固收增强理财", "wealth", "R3", 365, 0.0350, "N"),
    _p("PWM000", "天天利现金管理理财", "wealth", "R1", None, 0.0200, "N"),
    _p("PWM540", "鑫享权益增强理财18个月", "wealth", "R4", 540, 0.0450, "Y"),
    _p("PFD001", "货币市场基金A", "fund", "R1", None, 0.0180, "Y"),
    _p("PFD002", "中短债债券基金", "fund", "R2", None, 0.0300, "Y"),
    _p("PFD003", "稳健配置混合基金", "fund", "R3", None, 0.0500, "Y"),
    _p("PFD004", "沪深300指数基金", "fund", "R3", None, None, "Y"),
    _p("PFD005", "价值精选股票基金", "fund", "R4", None, None, "Y"),
    _p("PFD006", "新能源产业主题基金", "fund", "R5", None, None, "Y"),
    _p("PFD007", "医药健康行业基金", "fund", "R4", None, None, "Y"),
    _p("PFD008", "全球科技QDII基金", "fund", "R5", None, None, "Y"),
    _p("PIN001", "康宁重大疾病保险", "insurance", "R1", None, None, "Y"),
    _p("PIN002", "金福养老年金保险", "insurance", "R1", 3650, 0.0250, "Y"),
    _p("PIN003", "鑫盛终身寿险(分红型)", "insurance", "R2", None, 0.0300, "Y"),
    _p("PPM001", "积存金", "precious_metal", "R3", None, None, "N"),
    _p("PPM002", "实物投资金条", "precious_metal", "R2", None, None, "Y"),
    _p("PBD003", "储蓄国债(电子式)3年期", "bond", "R1", 1095, 0.0238, "N"),
    _p("PBD005", "储蓄国债(凭证式)5年期", "bond", "R1", 1825, 0.0250, "N"),
    _p("PBD010", "地方政府债柜台债券", "bond", "R2", 3650, 0.0280, "N"),
    _p("PLM001", "个人住房按揭贷款", "loan_mortgage", None, 9125, 0.0390, "N"),
    _p("PLM002", "公积金组合贷款", "loan_mortgage", None, 10950, 0.0310, "N"),
    _p("PLC001", "个人消费信用贷", "loan_consumer", None, 1095, 0.0420, "N"),
    _p("PLC002", "家装分期贷款", "loan_consumer", None, 1825, 0.0450, "N"),
    _p("PLB001", "个人经营贷款", "loan_business", None, 1095, 0.0380, "N"),
    _p("PCC001", "标准信用卡", "credit_card", None, None, None, "N"),
    _p("PCC002", "白金信用卡", "credit_card", None, None, None, "N"),
    _p("PSV001", "借记卡", "debit_card", None, None, None, "N"),
    _p("PSV002", "手机银行", "mobile_banking", None, None, None, "N"),
    _p("PSV003", "代发工资服务", "payroll_service", None, None, None, "N"),
)

# funds whose sector moved hard in the last month: holders get nav_move reminders
SECTOR_UP_FUND = "PFD006"
SECTOR_DOWN_FUND = "PFD007"


@dataclass
class Branch:
    branch_id: str
    name: str
    city: str | None
    parent_id: str | None


@dataclass
class StaffMember:
    staff_id: str
    name: str
    role: str
    branch_id: str
    level: str | None
    skills: str | None
    team_id: str | None
    capacity: int | None


@dataclass
class Organisation:
    branches: list[Branch]
    staff: list[StaffMember]
    # per city: the sub-branch ids; per sub-branch: its relationship managers (staff ids) and levels
    sub_branches: dict[str, list[str]] = field(default_factory=dict)
    rms: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


_SKILL_SETS = (
    "deposit_time;wealth;fund",
    "fund;insurance;precious_metal",
    "loan_mortgage;loan_consumer;credit_card",
    "wealth;fund;bond;insurance",
    "loan_business;deposit_time;wealth",
    "credit_card;loan_consumer;fund",
)


def staff_name(rng: np.random.Generator) -> str:
    surname = vocab.SURNAMES[int(rng.integers(0, 40))]
    chars = vocab.GIVEN_MALE if rng.random() < 0.5 else vocab.GIVEN_FEMALE
    n = 1 if rng.random() < 0.35 else 2
    return surname + "".join(chars[int(i)] for i in rng.integers(0, len(chars), n))


def build_organisation(customers: int, rng: np.random.Generator) -> Organisation:
    """Head office, one city branch per city, sub-branches scaled to ~400 customers per manager."""
    branches = [Branch("BR0000", "总行营业部", None, None)]
    staff: list[StaffMember] = []
    org = Organisation(branches, staff)
    per_city = max(3, round(customers / 4000 / len(vocab.CITIES)))
    seq = 0

    def add_staff(role: str, branch_id: str, level: str | None, skills: str | None, team: str | None) -> str:
        nonlocal seq
        seq += 1
        sid = f"S{seq:06d}"
        capacity = {"junior": 300, "senior": 500, "private_banker": 150}.get(level or "")
        if role == "team_lead":
            capacity = 200
        staff.append(StaffMember(sid, staff_name(rng), role, branch_id, level, skills, team, capacity))
        return sid

    for role, n in (("marketing", 3), ("compliance", 2), ("admin", 2)):
        for _ in range(n):
            add_staff(role, "BR0000", None, None, None)
    for ci, city in enumerate(vocab.CITIES):
        city_id = f"BR{ci + 1}000"
        branches.append(Branch(city_id, f"{city}分行", city, "BR0000"))
        add_staff("marketing", city_id, None, None, None)
        add_staff("compliance", city_id, None, None, None)
        areas = vocab.BRANCH_AREAS[city]
        org.sub_branches[city] = []
        for bi in range(per_city):
            bid = f"BR{ci + 1}{bi + 1:03d}"
            area = areas[bi % len(areas)]
            suffix = "" if bi < len(areas) else str(bi // len(areas) + 1)
            branches.append(Branch(bid, f"{city}{area}{suffix}支行", city, city_id))
            org.sub_branches[city].append(bid)
            add_staff("branch_manager", bid, "senior", None, None)
            org.rms[bid] = []
            for ti in range(2):
                team = f"TM{bid[2:]}{ti + 1}"
                add_staff("team_lead", bid, "senior", _SKILL_SETS[(bi + ti) % len(_SKILL_SETS)], team)
                for ri in range(5):
                    level = ("private_banker", "senior", "junior", "junior", "senior")[(ri + ti) % 5]
                    skills = _SKILL_SETS[(bi * 7 + ti * 5 + ri) % len(_SKILL_SETS)]
                    org.rms[bid].append((add_staff("rm", bid, level, skills, team), level))
    return org
