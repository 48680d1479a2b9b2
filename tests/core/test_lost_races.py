"""A transaction PostgreSQL rolls back for a concurrent one (deadlock, serialization failure)
answers 409, never 500. The faults are real: two overlapping requests on their own
connections, made to meet at a barrier so that they contend the way the test means."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text, update

from ledgerline.core.deps import SessionDep
from ledgerline.core.routing import LOST_RACE, LedgerlineRoute
from ledgerline.orgs.models import Org
from tests.conftest import AppFactory, api_client
from tests.factories import make_org, make_user, problem

pytestmark = pytest.mark.postgres_only


@pytest.fixture(autouse=True)
def postgres_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("deadlocks and serialization failures are PostgreSQL's")


async def deadlocking_app(app_factory: AppFactory) -> FastAPI:
    """A route that takes two advisory locks in the order asked, meeting its twin in between."""
    application = await app_factory()
    barrier = asyncio.Barrier(2)

    async def lock_both(first: int, second: int, session: SessionDep) -> dict[str, int]:
        await session.execute(select(func.pg_advisory_xact_lock(first)))
        await barrier.wait()
        await session.execute(select(func.pg_advisory_xact_lock(second)))
        return {"first": first}

    application.router.add_api_route(
        "/api/v1/lock-both", lock_both, methods=["POST"], route_class_override=LedgerlineRoute
    )
    return application


async def serializing_app(app_factory: AppFactory) -> FastAPI:
    """A route that reads an org and renames it in a repeatable-read transaction, meeting its
    twin after the read: the second rename finds the row changed since its snapshot."""
    application = await app_factory()
    barrier = asyncio.Barrier(2)

    async def rename(org_id: uuid.UUID, name: str, session: SessionDep) -> dict[str, str]:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        await session.execute(select(Org.name).where(Org.id == org_id))
        await barrier.wait()
        await session.execute(update(Org).where(Org.id == org_id).values(name=name))
        return {"name": name}

    application.router.add_api_route(
        "/api/v1/rename", rename, methods=["POST"], route_class_override=LedgerlineRoute
    )
    return application


class TestLostRaces:
    async def test_the_deadlock_victim_answers_409_and_the_other_succeeds(
        self, app_factory: AppFactory
    ) -> None:
        application = await deadlocking_app(app_factory)
        one, two = random.sample(range(1, 2**31), 2)

        async with api_client(application) as client:
            responses = await asyncio.gather(
                client.post("/lock-both", params={"first": one, "second": two}),
                client.post("/lock-both", params={"first": two, "second": one}),
            )

        assert sorted(response.status_code for response in responses) == [200, 409]
        loser = next(response for response in responses if response.status_code == 409)
        assert problem(loser, 409)["detail"] == LOST_RACE

    async def test_a_serialization_failure_answers_409_and_keeps_the_winner(
        self, app_factory: AppFactory
    ) -> None:
        application = await serializing_app(app_factory)
        owner = await make_user(application)
        org_id = await make_org(application, owner=owner, name="Before")

        async with api_client(application) as client:
            responses = await asyncio.gather(
                client.post("/rename", params={"org_id": str(org_id), "name": "One"}),
                client.post("/rename", params={"org_id": str(org_id), "name": "Two"}),
            )

        assert sorted(response.status_code for response in responses) == [200, 409]
        winner = next(response for response in responses if response.status_code == 200)
        loser = next(response for response in responses if response.status_code == 409)
        assert problem(loser, 409)["detail"] == LOST_RACE
        async with application.state.database.sessions() as session:
            name = await session.scalar(
                text("SELECT name FROM orgs WHERE id = :id"), {"id": org_id}
            )
        assert name == winner.json()["name"]
