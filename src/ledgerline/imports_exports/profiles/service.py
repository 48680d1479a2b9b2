"""Import profiles: saved CSV mappings of an org, and the mapping suggestion for a bank file.

Writes are flushed here and committed by the route layer, each audited in its own transaction.
"""

from __future__ import annotations

import uuid
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ledgerline.audit import service as audit_service
from ledgerline.audit.schemas import AuditAction, EntityType
from ledgerline.core.errors import (
    Conflict,
    ContentTooLarge,
    FieldError,
    NotFound,
    UnsupportedMediaType,
    ValidationFailed,
)
from ledgerline.core.money import format_amount
from ledgerline.core.text import fold_key
from ledgerline.imports_exports.profiles.models import ImportProfile
from ledgerline.imports_exports.profiles.schemas import (
    OpenChoiceRead,
    PreviewRow,
    ProfileCreate,
    ProfileRead,
    ProfileUpdate,
    SuggestionRead,
)
from ledgerline.imports_exports.statements import (
    CsvMapping,
    StatementError,
    StatementTooLarge,
    UnsupportedFormat,
    read_limited,
    suggest,
)
from ledgerline.orgs.dependencies import OrgContext

PROFILE_NOT_FOUND = "import profile not found"


def to_read(profile: ImportProfile) -> ProfileRead:
    return ProfileRead(
        id=profile.id,
        name=profile.name,
        mapping=CsvMapping.model_validate(profile.mapping),
        created_at=profile.created_at,
        updated_at=profile.updated_at,
    )


def _stored(mapping: CsvMapping) -> dict[str, Any]:
    return mapping.model_dump(mode="json")


async def mapping_of(session: AsyncSession, org_id: uuid.UUID, profile_id: uuid.UUID) -> CsvMapping:
    """The mapping of the org's profile ``profile_id``, for a statement import naming it: a
    profile of no such id in this org is a 422 on ``profile_id``."""
    mapping = await session.scalar(
        select(ImportProfile.mapping).where(
            ImportProfile.org_id == org_id, ImportProfile.id == profile_id
        )
    )
    if mapping is None:
        raise ValidationFailed(
            [FieldError("profile_id", "no such import profile in this organization")]
        )
    return CsvMapping.model_validate(mapping)


async def profile_by_name(session: AsyncSession, org_id: uuid.UUID, name: str) -> ImportProfile:
    """The org's profile named ``name`` case-insensitively (the CLI's ``--profile NAME``); a
    missing one is a 422 on ``profile`` naming it."""
    profile = await session.scalar(
        select(ImportProfile).where(
            ImportProfile.org_id == org_id, ImportProfile.name_key == fold_key(name)
        )
    )
    if profile is None:
        raise ValidationFailed(
            [FieldError("profile", f"'{name}' is not an import profile of this organization")]
        )
    return profile


async def _profile(
    session: AsyncSession, org_id: uuid.UUID, profile_id: uuid.UUID
) -> ImportProfile:
    profile = await session.scalar(
        select(ImportProfile)
        .where(ImportProfile.org_id == org_id, ImportProfile.id == profile_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if profile is None:
        raise NotFound(PROFILE_NOT_FOUND)
    return profile


async def list_profiles(session: AsyncSession, org_id: uuid.UUID) -> list[ProfileRead]:
    """Every profile of the org by name: an org keeps a handful, one per bank layout."""
    profiles = await session.scalars(
        select(ImportProfile)
        .where(ImportProfile.org_id == org_id)
        .order_by(ImportProfile.name_key, ImportProfile.id)
    )
    return [to_read(profile) for profile in profiles]


async def get_profile(
    session: AsyncSession, org_id: uuid.UUID, profile_id: uuid.UUID
) -> ProfileRead:
    profile = await session.scalar(
        select(ImportProfile).where(ImportProfile.org_id == org_id, ImportProfile.id == profile_id)
    )
    if profile is None:
        raise NotFound(PROFILE_NOT_FOUND)
    return to_read(profile)


async def _flush_named(session: AsyncSession, name: str) -> None:
    """Flush in a savepoint: a name another profile of the org holds is a 409 (also when two
    requests race for it: the unique index decides)."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"an import profile named '{name}' already exists") from exc


def _audit(
    session: AsyncSession,
    ctx: OrgContext,
    profile: ImportProfile,
    action: AuditAction,
    changes: dict[str, Any],
) -> None:
    audit_service.record_change(
        session,
        org_id=ctx.org_id,
        actor_id=ctx.user_id,
        action=action,
        entity_type=EntityType.IMPORT_PROFILE,
        entity_id=profile.id,
        changes=changes,
    )


async def create_profile(
    session: AsyncSession, ctx: OrgContext, data: ProfileCreate
) -> ProfileRead:
    profile = ImportProfile(
        org_id=ctx.org_id,
        name=data.name,
        name_key=fold_key(data.name),
        mapping=_stored(data.mapping),
    )
    session.add(profile)
    await _flush_named(session, data.name)
    _audit(
        session,
        ctx,
        profile,
        AuditAction.IMPORT_PROFILE_CREATED,
        {"name": [None, profile.name], "mapping": [None, profile.mapping]},
    )
    return to_read(profile)


async def update_profile(
    session: AsyncSession, ctx: OrgContext, profile_id: uuid.UUID, data: ProfileUpdate
) -> ProfileRead:
    """Change the fields sent; a change of nothing writes nothing (no audit entry)."""
    profile = await _profile(session, ctx.org_id, profile_id)
    changes: dict[str, Any] = {}
    if data.name is not None and data.name != profile.name:
        changes["name"] = [profile.name, data.name]
        profile.name, profile.name_key = data.name, fold_key(data.name)
    if data.mapping is not None:
        mapping = _stored(data.mapping)
        if mapping != profile.mapping:
            changes["mapping"] = [profile.mapping, mapping]
            profile.mapping = mapping
    if changes:
        await _flush_named(session, profile.name)
        _audit(session, ctx, profile, AuditAction.IMPORT_PROFILE_UPDATED, changes)
    return to_read(profile)


async def delete_profile(session: AsyncSession, ctx: OrgContext, profile_id: uuid.UUID) -> None:
    profile = await _profile(session, ctx.org_id, profile_id)
    _audit(
        session,
        ctx,
        profile,
        AuditAction.IMPORT_PROFILE_DELETED,
        {"name": [profile.name, None], "mapping": [profile.mapping, None]},
    )
    await session.delete(profile)
    await session.flush()


def suggest_mapping(
    source: BinaryIO, *, max_bytes: int, size: int | None, default_currency: str
) -> SuggestionRead:
    """The proposed mapping of a bank CSV, its open choices, and its first rows read with it."""
    if size is not None and size > max_bytes:
        raise ContentTooLarge(f"the file is larger than {max_bytes} bytes")
    try:
        data = read_limited(source, max_bytes)
        suggestion = suggest(data, default_currency=default_currency)
    except StatementTooLarge as exc:
        raise ContentTooLarge(exc.message) from exc
    except UnsupportedFormat as exc:
        raise UnsupportedMediaType(exc.message) from exc
    except StatementError as exc:
        raise UnsupportedMediaType(f"the file cannot be read as a CSV: {exc}") from exc
    return SuggestionRead(
        mapping=suggestion.proposed,
        complete=suggestion.mapping is not None and suggestion.problem is None,
        columns=suggestion.columns,
        choices=[
            OpenChoiceRead(field=c.field, options=c.options, reason=c.reason)
            for c in suggestion.choices
        ],
        preview=[
            PreviewRow(
                line=row.line,
                date=row.date,
                type=row.type,
                amount=format_amount(row.amount, row.currency),
                currency=row.currency,
                description=row.description,
                external_id=row.bank_id,
                category=row.category,
            )
            for row in suggestion.preview
        ],
        problem=suggestion.problem,
    )
