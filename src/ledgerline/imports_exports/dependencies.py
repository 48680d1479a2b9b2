from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledgerline.imports_exports.jobs import JobRunner


async def get_job_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.import_jobs
    return runner


JobRunnerDep = Annotated[JobRunner, Depends(get_job_runner)]
