"""The one Settings object: read once, passed around, never looked up from os.environ elsewhere."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where the data lives and which database to use."""

    model_config = SettingsConfigDict(env_prefix="BANKCRM_", extra="ignore")

    home: Path = Field(default=Path("./bankcrm-data"), description="home folder: SQLite file, lake, keys")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default a SQLite file in home")
    key_file: Path | None = Field(default=None, description="field-encryption key file; default home/keys.json")
    timezone: str = "Asia/Shanghai"
    env: str = Field(default="dev", description="dev or prod; prod refuses keys inside the home folder")
    # masked display of ID numbers: FIRST+LAST visible characters; the default hides the last 6 of 18
    id_mask: str = Field(default="12+0", description="ID number mask, visible first+last characters, e.g. 3+0")
    audit_retention_days: int = Field(default=365, description="audit purge age; below 183 days is refused")
    # DuckDB spills to disk beyond this during the nightly run (its own default is 80% of the RAM)
    nightly_memory_limit: str = Field(default="4GB", description="DuckDB memory limit of the nightly run")
    # argon2id cost; raising it rehashes each password at its owner's next login
    password_hash_time_cost: int = 3
    password_hash_memory_kib: int = 65536
    password_hash_parallelism: int = 4
    # connections kept open per process (PostgreSQL), and how many more a burst may open and close;
    # the web app serves up to 40 requests at once per process, so keep the pool near that
    db_pool_size: int = Field(default=20, ge=1, le=200, description="database connections kept per process")
    db_max_overflow: int = Field(default=20, ge=0, le=200, description="extra connections a burst may open")
    # a pooled connection unused for this long is checked with a round trip before it is handed out
    # (PostgreSQL); a busy process's connections are never that idle, so its requests skip the check
    db_ping_idle_seconds: float = Field(
        default=10.0, ge=0, le=3600, description="check pooled connections idle this long before use (0: always)"
    )
    # a keep-alive connection is closed after this many requests, so the kernel spreads the
    # reconnecting clients over the web processes again (see web.middleware.ConnectionRecycleMiddleware)
    web_keepalive_requests: int = Field(
        default=25, ge=1, le=100_000, description="requests per keep-alive connection before it is closed"
    )
    # the Secure flag on the web app's cookies; None means on in prod (behind TLS), off in dev
    cookie_secure: bool | None = Field(default=None, description="Secure cookies; default on when env is prod")

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite:///{self.home / 'bankcrm.db'}"

    @property
    def effective_cookie_secure(self) -> bool:
        return self.cookie_secure if self.cookie_secure is not None else self.env == "prod"

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"

    @property
    def effective_key_file(self) -> Path:
        return (self.key_file or self.home / "keys.json").expanduser().resolve()

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def ensure_home(self) -> Path:
        self.home.mkdir(parents=True, exist_ok=True)
        return self.home

    # --- message outbox and gateways (the contact policy itself is stored in the database) ---
    # gateway per channel: file (JSON lines under home/outbox), smtp (e-mail only), or package.module:factory;
    # auto = smtp for e-mail when smtp_host is set, else file
    email_gateway: str = "auto"
    sms_gateway: str = "file"
    wechat_gateway: str = "file"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "ssl"] = "none"
    smtp_sender: str = "noreply@bankcrm.local"
    smtp_timeout_seconds: float = 30.0
    outbox_batch: int = Field(default=50, ge=1, description="messages a dispatcher claims at a time")
    # a claimed message whose worker has not renewed its lease for this long is taken over (killed worker)
    outbox_lease_seconds: float = Field(default=120.0, gt=0)
    outbox_max_attempts: int = Field(default=5, ge=1)
    outbox_backoff_seconds: float = Field(default=60.0, ge=0, description="first retry delay; doubles per attempt")
    outbox_backoff_max_seconds: float = Field(default=3600.0, ge=0)
    outbox_interval_seconds: float = Field(default=30.0, gt=0, description="dispatcher loop poll interval")


def normalise_database_url(url: str) -> str:
    """Accept plain postgresql:// URLs and route them to psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url
