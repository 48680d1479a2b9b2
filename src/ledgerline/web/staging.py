"""Uploaded files kept between an import's preview and its confirmation.

A browser cannot send a file input again, so the preview keeps the upload in a private temporary
folder under a random token; the file name also carries the org and the user, so a token is
worthless to anyone else. Files older than ``MAX_AGE_SECONDS`` are swept on each new upload.
"""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import BinaryIO

MAX_AGE_SECONDS = 3600
_TOKEN_LENGTH = 32


def staging_dir() -> Path:
    folder = Path(tempfile.gettempdir()) / "ledgerline-web-imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _path(token: str, org_id: uuid.UUID, user_id: uuid.UUID) -> Path:
    digest = hashlib.sha256(f"{org_id}:{user_id}:{token}".encode()).hexdigest()
    return staging_dir() / f"{digest}.csv"


def _sweep(folder: Path) -> None:
    cutoff = time.time() - MAX_AGE_SECONDS
    for old in folder.glob("*.csv"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except FileNotFoundError:
            continue


def stage(stream: BinaryIO, *, org_id: uuid.UUID, user_id: uuid.UUID) -> str:
    _sweep(staging_dir())
    token = secrets.token_urlsafe(24)
    with _path(token, org_id, user_id).open("xb") as target:
        shutil.copyfileobj(stream, target)
    return token


def staged(token: str, *, org_id: uuid.UUID, user_id: uuid.UUID) -> Path | None:
    if (
        not token
        or len(token) > _TOKEN_LENGTH
        or not token.replace("-", "").replace("_", "").isalnum()
    ):
        return None
    path = _path(token, org_id, user_id)
    return path if path.is_file() else None
