from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile, status

from ledgerline.core.deps import SessionDep, SettingsDep
from ledgerline.core.headers import created_location
from ledgerline.core.openapi import error_responses
from ledgerline.core.routing import LedgerlineRoute, body_limit
from ledgerline.imports_exports.profiles import service as profiles_service
from ledgerline.imports_exports.profiles.schemas import (
    ProfileCreate,
    ProfileRead,
    ProfileUpdate,
    SuggestionRead,
)
from ledgerline.orgs.dependencies import ImportSettingsManager

router = APIRouter(
    prefix="/orgs/{org_id}/import-profiles", tags=["bank statements"], route_class=LedgerlineRoute
)

_ORG = (401, 403, 404, 422, 429)
_BODY = (400, 413, 415)
MULTIPART_OVERHEAD = 64 * 1024


@router.get("", responses=error_responses(*_ORG))
async def list_import_profiles(
    session: SessionDep, ctx: ImportSettingsManager
) -> list[ProfileRead]:
    """The org's saved CSV mappings, by name (a plain list: an org keeps a few)."""
    return await profiles_service.list_profiles(session, ctx.org_id)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(409, *_ORG, *_BODY),
)
async def create_import_profile(
    body: ProfileCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    ctx: ImportSettingsManager,
) -> ProfileRead:
    """Save a CSV mapping under a name, unique in the org case-insensitively (409 otherwise)."""
    profile = await profiles_service.create_profile(session, ctx, body)
    response.headers["Location"] = created_location(request, profile.id)
    return profile


@router.post("/suggest", responses=error_responses(*_ORG, *_BODY))
@body_limit(lambda settings: settings.import_max_bytes + MULTIPART_OVERHEAD)
async def suggest_import_profile(
    file: Annotated[UploadFile, File(description="a bank's CSV statement")],
    settings: SettingsDep,
    ctx: ImportSettingsManager,
) -> SuggestionRead:
    """A mapping proposed from the file's header names and values, the choices it could not
    make (an ambiguous date format, with its candidates), and the first rows as they would be
    imported. Nothing is saved: post the mapping to ``import-profiles`` to keep it."""
    return profiles_service.suggest_mapping(
        file.file,
        max_bytes=settings.import_max_bytes,
        size=file.size,
        default_currency=ctx.org.currency,
    )


@router.get("/{profile_id}", responses=error_responses(*_ORG))
async def get_import_profile(
    profile_id: uuid.UUID, session: SessionDep, ctx: ImportSettingsManager
) -> ProfileRead:
    return await profiles_service.get_profile(session, ctx.org_id, profile_id)


@router.patch("/{profile_id}", responses=error_responses(409, *_ORG, *_BODY))
async def update_import_profile(
    profile_id: uuid.UUID, body: ProfileUpdate, session: SessionDep, ctx: ImportSettingsManager
) -> ProfileRead:
    """Rename a profile or replace its mapping (the mapping is replaced whole)."""
    return await profiles_service.update_profile(session, ctx, profile_id, body)


@router.delete(
    "/{profile_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(*_ORG)
)
async def delete_import_profile(
    profile_id: uuid.UUID, session: SessionDep, ctx: ImportSettingsManager
) -> Response:
    await profiles_service.delete_profile(session, ctx, profile_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
