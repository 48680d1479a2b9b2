"""Instance-wide values kept in the database, shared by every process (the signing secret)."""

from __future__ import annotations

import secrets

from sqlalchemy import String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from ledgerline.core.db import Base, Database

SIGNING_SECRET = "jwt_signing_secret"  # noqa: S105


class InstanceSetting(Base):
    __tablename__ = "instance_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


async def _read(session: AsyncSession, name: str) -> str | None:
    return await session.scalar(select(InstanceSetting.value).where(InstanceSetting.name == name))


async def get_or_create_secret(database: Database, name: str = SIGNING_SECRET) -> str:
    """Read the instance's secret, generating it on first start; safe when processes race."""
    async with database.sessions() as session:
        existing = await _read(session, name)
        if existing is not None:
            return existing
        session.add(InstanceSetting(name=name, value=secrets.token_urlsafe(48)))
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
    async with database.sessions() as session:
        stored = await _read(session, name)
    if stored is None:
        raise RuntimeError(f"instance setting {name} could not be stored")
    return stored
