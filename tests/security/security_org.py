"""Test helpers: a fake clock, a counting hasher and a hand-made bank with known customer owners."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from bankcrm.customers.models import Customer
from bankcrm.security.passwords import PasswordHasher
from bankcrm.staff.models import Branch, Staff, Team

# customer -> (branch, rm)
CUSTOMERS = {
    "C1": ("B1", "S1"),
    "C2": ("B1", "S1"),
    "C3": ("B1", "S2"),
    "C4": ("B1", "S3"),
    "C5": ("B2", "S4"),
    "C6": ("B1", None),
    "C7": ("B1", "L1"),
}


def build_org(session: Session) -> None:
    session.add_all([Branch(branch_id="B1", name="Chaoyang"), Branch(branch_id="B2", name="Haidian")])
    session.flush()
    session.add_all(
        [
            Team(team_id="T1", name="Wealth 1", branch_id="B1", lead_staff_id="L1"),
            Team(team_id="T2", name="Wealth 2", branch_id="B1"),
            Team(team_id="T3", name="Haidian 1", branch_id="B2"),
        ]
    )
    session.flush()
    staff = [
        ("S1", "rm", "B1", "T1"),
        ("S2", "rm", "B1", "T1"),
        ("S3", "rm", "B1", "T2"),
        ("S4", "rm", "B2", "T3"),
        ("L1", "team_lead", "B1", "T1"),
        ("M1", "branch_manager", "B1", None),
    ]
    session.add_all(
        [Staff(staff_id=s, name=f"staff {s}", role=r, branch_id=b, team_id=t, active=True) for s, r, b, t in staff]
    )
    session.flush()
    session.add_all(
        [
            Customer(
                customer_id=cid,
                name="张三",
                gender="M",
                birth_date=date(1980, 1, 1),
                id_number_enc="k1$x",
                id_number_bidx=f"id-{cid}",
                phone_enc="k1$y",
                phone_bidx=f"ph-{cid}",
                onboard_date=date(2020, 1, 1),
                branch_id=branch,
                rm_id=rm,
            )
            for cid, (branch, rm) in CUSTOMERS.items()
        ]
    )
    session.flush()


class FakeClock:
    """A clock that only moves when the test says so."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class CountingHasher(PasswordHasher):
    """Counts verifications, to prove unknown users cost one argon2 verification like known ones."""

    def __init__(self, **kwargs: int) -> None:
        super().__init__(**kwargs)
        self.verifications = 0

    def verify(self, password_hash: str, password: str) -> bool:
        self.verifications += 1
        return super().verify(password_hash, password)
