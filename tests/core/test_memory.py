"""The app's startup objects are frozen out of the garbage collector's full passes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

STARTS_TWO_APPS = textwrap.dedent(
    """
    import asyncio, gc, sys
    from ledgerline.app import create_app
    from tests.conftest import make_settings

    async def start(url):
        app = create_app(make_settings(url, auto_migrate=True))
        async with app.router.lifespan_context(app):
            return gc.get_freeze_count()

    before = gc.get_freeze_count()
    first = asyncio.run(start(sys.argv[1]))
    garbage = [[] for _ in range(10_000)]
    second = asyncio.run(start(sys.argv[1]))
    print(before, first, second)
    """
)


def test_the_first_app_of_a_process_freezes_its_startup_objects_and_later_ones_do_not(
    tmp_path: Path,
) -> None:
    """In a process of its own: the suite's process has long frozen its first app."""
    url = f"sqlite:///{tmp_path / 'memory.db'}"
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", STARTS_TWO_APPS, url],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    before, first, second = (int(count) for count in result.stdout.split())
    assert before == 0
    assert first > 50_000
    # Frozen objects that die leave the count; a second freeze would have added the new app
    # and the ten thousand lists.
    assert second <= first
