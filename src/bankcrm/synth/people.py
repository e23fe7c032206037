"""Customers of one chunk: who they are (vectorised draws) and their master-data table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bankcrm.reference import OCCUPATIONS
from bankcrm.synth import arrowkit as ak
from bankcrm.synth import vocab
from bankcrm.synth.master import Organisation

YOUNG, MIDDLE, SENIOR = 0, 1, 2
OCC = {o: i for i, o in enumerate(OCCUPATIONS)}
# occupation mix by age group, in OCCUPATIONS order
_OCC_P = np.array(
    [
        [0.01, 0.20, 0.07, 0.05, 0.42, 0.12, 0.02, 0.03, 0.00, 0.08],
        [0.05, 0.17, 0.09, 0.12, 0.33, 0.12, 0.04, 0.00, 0.01, 0.07],
        [0.03, 0.06, 0.04, 0.07, 0.10, 0.05, 0.05, 0.00, 0.55, 0.05],
    ]
)
_INCOME_MEDIAN = np.array([45000, 18000, 12000, 20000, 8500, 6000, 3500, 1500, 5200, 5000], dtype=float)
_EMPLOYED = np.isin(
    np.arange(len(OCCUPATIONS)), [OCC[o] for o in ("executive", "professional", "civil_servant", "employee", "worker")]
)
_ALL_CHARS = list(vocab.GIVEN_MALE + vocab.GIVEN_NEUTRAL) + list(vocab.GIVEN_FEMALE + vocab.GIVEN_NEUTRAL) + [""]
_N_MALE = len(vocab.GIVEN_MALE + vocab.GIVEN_NEUTRAL)
_N_FEMALE = len(vocab.GIVEN_FEMALE + vocab.GIVEN_NEUTRAL)
_SURNAMES = list(vocab.SURNAMES) + list(vocab.COMPOUND_SURNAMES)
_SURNAME_P = np.r_[1.0 / (np.arange(len(vocab.SURNAMES)) + 4.0) ** 1.15, np.full(len(vocab.COMPOUND_SURNAMES), 0.0008)]
_SURNAME_P /= _SURNAME_P.sum()
_CITY_NAMES = list(vocab.CITIES)
_DISTRICTS = [(ci, name, int(code)) for ci, city in enumerate(_CITY_NAMES) for name, code in vocab.CITIES[city]]
_ESTATE_WORDS = ("阳光", "金色", "翠湖", "锦绣", "和谐", "明珠", "紫荆", "春江", "绿洲", "东方")


@dataclass
class People:
    """One chunk's customers as parallel arrays (days are days since 1970-01-01)."""

    cust_no: np.ndarray
    age_group: np.ndarray
    age: np.ndarray
    birth: np.ndarray
    male: np.ndarray
    city: np.ndarray
    district: np.ndarray  # index into _DISTRICTS
    branch: np.ndarray  # index into the flat sub-branch list
    rm: np.ndarray  # index into the flat RM list, -1 unassigned
    occupation: np.ndarray
    income: np.ndarray  # yuan, NaN when unknown
    onboard: np.ndarray
    consent: np.ndarray
    risk: np.ndarray  # 1..5
    assessed: np.ndarray  # day, NULL when never assessed
    vip: np.ndarray
    wealth: np.ndarray  # yuan: what the customer keeps with the bank
    dormant: np.ndarray
    growth: np.ndarray
    leaver: np.ndarray
    payroll: np.ndarray
    parent: np.ndarray
    house_hunter: np.ndarray
    mobile: np.ndarray  # propensity to use the app
    counter: np.ndarray  # propensity to use the counter
    tx_rate: np.ndarray  # customer-initiated transactions per day


@dataclass
class OrgArrays:
    branch_ids: list[str]
    branch_city: np.ndarray
    per_city: int
    rm_ids: list[str]
    rm_level: np.ndarray  # 0 junior, 1 senior, 2 private banker
    rms_per_branch: int

    @classmethod
    def of(cls, org: Organisation) -> OrgArrays:
        branch_ids: list[str] = []
        city: list[int] = []
        rm_ids: list[str] = []
        levels: list[int] = []
        for ci, c in enumerate(_CITY_NAMES):
            for bid in org.sub_branches[c]:
                branch_ids.append(bid)
                city.append(ci)
                for sid, level in org.rms[bid]:
                    rm_ids.append(sid)
                    levels.append(("junior", "senior", "private_banker").index(level))
        per_city = len(org.sub_branches[_CITY_NAMES[0]])
        return cls(branch_ids, np.array(city), per_city, rm_ids, np.array(levels), len(org.rms[branch_ids[0]]))


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(probs.shape[0]) * cum[:, -1]
    return (u[:, None] > cum).sum(axis=1)


def draw_people(rng: np.random.Generator, cust_no: np.ndarray, as_of: int, orgs: OrgArrays) -> People:
    n = cust_no.shape[0]
    group = np.asarray(rng.choice(3, n, p=[0.36, 0.40, 0.24]))
    age = np.select(
        [group == YOUNG, group == MIDDLE], [rng.integers(18, 36, n), rng.integers(36, 56, n)], rng.integers(56, 83, n)
    )
    birth = (as_of - age * 365.25 - rng.integers(1, 365, n)).astype(np.int64)
    male = np.asarray(rng.random(n) < 0.49)
    occ = _choice_rows(rng, _OCC_P[group])
    occ = np.where((age < 23) & (rng.random(n) < 0.7), OCC["student"], occ)
    occ = np.where((age >= 62) & (rng.random(n) < 0.8), OCC["retired"], occ)
    occ = np.where((occ == OCC["student"]) & (age > 26), OCC["employee"], occ)
    income = np.round(_INCOME_MEDIAN[occ] * rng.lognormal(0.0, 0.45, n) / 100) * 100
    income = np.where(rng.random(n) < 0.08, np.nan, income)
    max_tenure = np.clip((age - 18) * 365, 60, 20 * 365)
    onboard = as_of - (30 + rng.random(n) * (max_tenure - 30)).astype(np.int64)

    city = np.asarray(rng.choice(len(_CITY_NAMES), n, p=list(vocab.CITY_WEIGHTS)))
    counts = np.array([len(vocab.CITIES[c]) for c in _CITY_NAMES])
    offsets = np.r_[0, np.cumsum(counts)[:-1]]
    district = offsets[city] + (rng.random(n) * counts[city]).astype(np.int64)
    branch = city * orgs.per_city + np.asarray(rng.integers(0, orgs.per_city, n))

    # wealth: a thin Pareto tail of VIPs over a log-normal mass (CMB 2021: ~2% hold >80% of AUM)
    vip_w = np.ones(n)
    vip_w *= np.select(
        [occ == OCC["executive"], occ == OCC["private_business"], occ == OCC["professional"]], [6, 4, 1.6], 1
    )
    vip_w *= np.select([group == YOUNG, group == MIDDLE], [0.25, 1.5], 1.8)
    vip = rng.random(n) < np.clip(vip_w * 0.021 / vip_w.mean(), 0, 0.6)
    median = np.select([group == YOUNG, group == MIDDLE], [1200.0, 4000.0], 10000.0)
    wealth = np.where(
        vip,
        np.minimum(650_000 * (1 + rng.pareto(1.05, n)), 80_000_000),
        np.minimum(median * rng.lognormal(0.0, 1.3, n), 360_000),
    )
    tenure = as_of - onboard
    dormant = (rng.random(n) < 0.07) & (tenure > 400) & ~vip
    growth = (rng.random(n) < 0.07) & ~vip & ~dormant & (wealth > 3000)
    leaver = (rng.random(n) < 0.025) & ~dormant & ~growth & (wealth > 20000)
    payroll = _EMPLOYED[occ] & (rng.random(n) < 0.55) & ~dormant
    parent = (age >= 24) & (age <= 38) & (rng.random(n) < 0.12)
    house_hunter = (age >= 25) & (age <= 45) & (rng.random(n) < 0.03)
    mobile = np.clip(
        np.select([group == YOUNG, group == MIDDLE], [0.85, 0.55], 0.18) + rng.normal(0, 0.1, n), 0.02, 0.98
    )
    counter = np.clip(
        np.select([group == YOUNG, group == MIDDLE], [0.03, 0.12], 0.45) + rng.normal(0, 0.05, n), 0.0, 0.9
    )
    tx_rate = np.select([group == YOUNG, group == MIDDLE], [0.75, 0.55], 0.22) * rng.lognormal(0, 0.45, n)
    risk = np.clip(np.select([group == YOUNG, group == MIDDLE], [3, 3], 2) + rng.integers(-1, 3, n), 1, 5)
    assessed = np.where(rng.random(n) < 0.15, np.iinfo(np.int32).min, as_of - rng.integers(0, 800, n))
    assessed = np.where(assessed < onboard, np.maximum(onboard, as_of - 800), assessed)

    # relationship managers: VIPs go to a private banker or senior manager; some customers have none
    rms = orgs.rms_per_branch
    rm = branch * rms + np.asarray(rng.integers(0, rms, n))
    pb = np.nonzero(orgs.rm_level[:rms] == 2)[0]
    rm = np.where(vip, branch * rms + pb[rng.integers(0, pb.size, n)], rm)
    rm = np.where(~vip & (rng.random(n) < 0.15), -1, rm)
    return People(
        cust_no=cust_no,
        age_group=group,
        age=age,
        birth=birth,
        male=male,
        city=city,
        district=district,
        branch=branch,
        rm=rm,
        occupation=occ,
        income=income,
        onboard=onboard,
        consent=np.asarray(rng.random(n) < 0.68),
        risk=risk,
        assessed=assessed,
        vip=vip,
        wealth=wealth,
        dormant=dormant,
        growth=growth,
        leaver=leaver,
        payroll=payroll,
        parent=parent,
        house_hunter=house_hunter,
        mobile=mobile,
        counter=counter,
        tx_rate=tx_rate,
    )


def _ymd(days: np.ndarray) -> np.ndarray:
    d = days.astype("datetime64[D]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dd = (d - d.astype("datetime64[M]")).astype(np.int64) + 1
    return y * 10000 + m * 100 + dd


def people_table(p: People, rng: np.random.Generator, orgs: OrgArrays) -> pa.Table:
    """The customers file rows of these people."""
    n: int = p.cust_no.shape[0]

    def ints(lo: int, hi: int) -> np.ndarray:
        return np.asarray(rng.integers(lo, hi, n))

    surname = ak.pick(_SURNAMES, rng.choice(len(_SURNAMES), n, p=_SURNAME_P))
    g1 = np.where(p.male, ints(0, _N_MALE), _N_MALE + ints(0, _N_FEMALE))
    g2 = np.where(p.male, ints(0, _N_MALE), _N_MALE + ints(0, _N_FEMALE))
    g2 = np.where(rng.random(n) < 0.25, len(_ALL_CHARS) - 1, g2)
    name = ak.join(surname, ak.pick(_ALL_CHARS, g1), ak.pick(_ALL_CHARS, g2))
    region = np.array([d[2] for d in _DISTRICTS])[p.district]
    id_number = ak.id_numbers(region, _ymd(p.birth), p.male, rng)
    prefix = ak.pick(vocab.MOBILE_PREFIXES, ints(0, len(vocab.MOBILE_PREFIXES)))
    phone = ak.join(prefix, ak.fixed_strings(ak.digits(ints(0, 10**8), 8)))
    district_name = ak.pick([d[1] for d in _DISTRICTS], p.district)
    city_name = ak.pick(_CITY_NAMES, p.city)
    address = ak.join(
        city_name,
        "市",
        district_name,
        ak.pick(vocab.ROADS, ints(0, len(vocab.ROADS))),
        pc.cast(pa.array(ints(1, 1200)), pa.string()),
        "号",
        ak.pick(_ESTATE_WORDS, ints(0, len(_ESTATE_WORDS))),
        ak.pick(vocab.COMPOUNDS, ints(0, len(vocab.COMPOUNDS))),
        pc.cast(pa.array(ints(1, 30)), pa.string()),
        "栋",
        pc.cast(pa.array(ints(1, 33) * 100 + ints(1, 5)), pa.string()),
        "室",
    )
    letters = ak.fixed_strings(rng.integers(97, 123, (n, 6), dtype=np.uint8))
    domain = ints(0, len(vocab.EMAIL_DOMAINS))
    qq = pc.cast(pa.array(ints(10**7, 3 * 10**9)), pa.string())
    local = pc.if_else(pa.array(domain == 0), qq, ak.join(letters, pc.cast(pa.array(ints(1, 9999)), pa.string())))
    email = ak.join(local, "@", ak.pick(vocab.EMAIL_DOMAINS, domain))
    email = pc.if_else(pa.array(rng.random(n) < 0.3), pa.nulls(n, pa.string()), email)
    income_ok = ~np.isnan(p.income)
    assessed_ok = p.assessed != np.iinfo(np.int32).min
    return pa.table(
        {
            "customer_id": ak.prefixed_ids("C", (p.cust_no, 9)),
            "name": name,
            "gender": ak.pick(("F", "M"), p.male.astype(np.int64)),
            "birth_date": ak.dates(p.birth),
            "id_number": id_number,
            "phone": phone,
            "city": city_name,
            "occupation": ak.pick(OCCUPATIONS, p.occupation),
            "income_monthly": ak.money(
                np.where(income_ok, np.nan_to_num(p.income) * 100, 0).astype(np.int64), income_ok
            ),
            "onboard_date": ak.dates(p.onboard),
            "branch_id": ak.pick(orgs.branch_ids, p.branch),
            "rm_id": ak.pick([*orgs.rm_ids, None], np.where(p.rm < 0, len(orgs.rm_ids), p.rm)),
            "marketing_consent": ak.pick(("N", "Y"), p.consent.astype(np.int64)),
            "risk_level": ak.pick(("C1", "C2", "C3", "C4", "C5"), p.risk - 1),
            "risk_assessed_on": ak.dates(np.where(assessed_ok, p.assessed, 0), assessed_ok),
            "address": address,
            "email": email,
        }
    )
