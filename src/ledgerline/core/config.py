"""Settings, every one an environment variable prefixed ``LEDGERLINE_``."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Literal

from limits import parse_many
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "LEDGERLINE_"
RateLimitSetting = Annotated[str, Field(description="limits notation, e.g. 5/15minutes; 0 = off")]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = "sqlite:///ledgerline.db"
    read_database_url: str | None = None
    """PostgreSQL read replica for GET requests (dashboards, lists, exports); unset: the primary."""
    auto_migrate: bool | None = None
    """Migrate on start. Unset means: on for SQLite, off for PostgreSQL."""
    db_pool_size: int = Field(default=10, ge=1)
    db_echo: bool = False
    db_connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to open a connection, or to wait for a free one in the pool; then 503."""
    db_statement_timeout: float = Field(default=30.0, gt=0)
    """Seconds one statement may run (PostgreSQL); then 503. Imports are not bound by it."""

    secret_key: SecretStr | None = None
    """HS256 signing secret (>= 32 bytes). Unset: generated once and kept in the database."""
    jwt_algorithm: Literal["HS256", "RS256", "ES256", "EdDSA"] = "HS256"
    """HS256 uses ``secret_key``; the others sign with a PEM key pair from the two files below."""
    jwt_private_key_file: Path | None = None
    jwt_public_key_file: Path | None = None
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)

    password_hash_time_cost: int = Field(default=3, ge=1)
    password_hash_memory_kib: int = Field(default=65_536, ge=1_024)

    admin_email: str | None = None
    admin_password: SecretStr | None = None
    default_org_name: str = "Default"
    default_currency: str = "USD"
    allow_registration: bool = True

    login_failures_per_email_and_address: RateLimitSetting = "5/15minutes"
    """Failed logins for one email from one client address: guesses from elsewhere do not count."""
    login_failures_per_email: RateLimitSetting = "100/hour"
    """Failed logins for one email from any address: guessing spread over many addresses."""
    login_failures_per_address: RateLimitSetting = "50/15minutes"
    registrations_per_address: RateLimitSetting = "20/hour"
    requests_per_user: RateLimitSetting = "1200/minute"
    redis_url: str | None = None
    redis_timeout: float = Field(default=0.5, gt=0)
    """Seconds Redis has to answer; then the limits count in each process until it is back."""

    web_secure_cookies: bool | None = None
    """Session cookies ``Secure`` with the ``__Host-`` prefix. Unset: when the request is HTTPS."""

    max_json_body_bytes: int = Field(default=1_000_000, ge=1_024)
    import_max_bytes: int = Field(default=20_000_000, ge=1_024)
    import_max_rows: int = Field(default=200_000, ge=1)
    web_import_job_bytes: int = Field(default=1_000_000, ge=0)
    """Web import page: a file larger than this runs as an import job with a progress bar;
    smaller files get the dry-run preview, then the confirmation."""

    shutdown_timeout_seconds: int = Field(default=30, ge=1)
    """On SIGTERM, how long requests in flight may take to finish before they are cancelled."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_json: bool = True
    metrics_token: SecretStr | None = None
    """When set, ``/metrics`` requires ``Authorization: Bearer <token>``."""

    @field_validator(
        "login_failures_per_email_and_address",
        "login_failures_per_email",
        "login_failures_per_address",
        "registrations_per_address",
        "requests_per_user",
    )
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        value = value.strip()
        if value != "0":
            parse_many(value)
        return value

    @field_validator("database_url", "read_database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        """Checked here so a typo is a settings error naming its variable; the message never
        repeats the URL, which may hold a password."""
        if value is None:
            return None
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            backend = None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(
                "not a database URL this service takes: "
                "use sqlite:///path.db or postgresql://user:password@host:5432/database"
            )
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 32:
            raise ValueError("must be at least 32 bytes")
        return value

    @model_validator(mode="after")
    def _key_pair_for_asymmetric_algorithms(self) -> Settings:
        if self.jwt_algorithm != "HS256" and not (
            self.jwt_private_key_file and self.jwt_public_key_file
        ):
            raise ValueError(
                f"jwt_algorithm {self.jwt_algorithm} needs LEDGERLINE_JWT_PRIVATE_KEY_FILE "
                "and LEDGERLINE_JWT_PUBLIC_KEY_FILE"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def should_auto_migrate(self) -> bool:
        return self.is_sqlite if self.auto_migrate is None else self.auto_migrate

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        _, _, path = self.database_url.partition(":///")
        return Path(path) if path and path != ":memory:" else None


class InvalidSettings(ValueError):
    """A setting is wrong; the message names its variable and never repeats its value."""


def describe_invalid_settings(exc: ValidationError) -> str:
    """``LEDGERLINE_SECRET_KEY: must be at least 32 bytes`` for each error.

    Pydantic's own text names the Python field and repeats the input, which may be a secret.
    """
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        message = error["msg"].removeprefix("Value error, ")
        if error["loc"]:
            problems.append(f"{ENV_PREFIX}{str(error['loc'][0]).upper()}: {message}")
        else:
            problems.append(message)
    return "; ".join(problems)


@functools.cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise InvalidSettings(describe_invalid_settings(exc)) from None
