"""Access tokens signed with an asymmetric key pair when one is configured."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from ledgerline.core.config import Settings
from tests.conftest import AppFactory, api_client
from tests.factories import PASSWORD, make_user


def _write_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    private = Ed25519PrivateKey.generate()
    private_file, public_file = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    private_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_file.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private_file, public_file


class TestEdDSATokens:
    async def test_login_issues_tokens_verifiable_with_the_public_key(
        self, app_factory: AppFactory, tmp_path: Path
    ) -> None:
        private_file, public_file = _write_key_pair(tmp_path, "signing")
        app = await app_factory(
            jwt_algorithm="EdDSA",
            jwt_private_key_file=private_file,
            jwt_public_key_file=public_file,
        )
        user = await make_user(app)
        async with api_client(app) as client:
            login = await client.post(
                "/auth/login", json={"email": user.email, "password": PASSWORD}
            )
            assert login.status_code == 200
            token = login.json()["access_token"]
            assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
            claims = jwt.decode(token, public_file.read_bytes(), algorithms=["EdDSA"])
            assert claims["sub"] == str(user.user_id)
            me = await client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200

    async def test_token_signed_by_another_key_is_refused(
        self, app_factory: AppFactory, tmp_path: Path
    ) -> None:
        private_file, public_file = _write_key_pair(tmp_path, "signing")
        other_private, _ = _write_key_pair(tmp_path, "other")
        app = await app_factory(
            jwt_algorithm="EdDSA",
            jwt_private_key_file=private_file,
            jwt_public_key_file=public_file,
        )
        user = await make_user(app)
        forged = jwt.encode(
            {"sub": str(user.user_id), "sid": "x", "typ": "access", "iat": 0, "exp": 2**40},
            other_private.read_bytes(),
            algorithm="EdDSA",
        )
        async with api_client(app) as client:
            response = await client.get("/users/me", headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401

    def test_asymmetric_algorithm_without_keys_is_refused_at_start(self) -> None:
        with pytest.raises(ValidationError, match="needs LEDGERLINE_JWT_PRIVATE_KEY_FILE"):
            Settings(jwt_algorithm="EdDSA")
