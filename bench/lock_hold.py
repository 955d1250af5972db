"""How long a submission holds SQLite's write lock: from ``BEGIN IMMEDIATE`` to the end of its
``COMMIT``, measured in-process with SQLAlchemy's events over named and anonymous submissions
on a scratch database with the demo organisation.  A script, not a test: it prints figures.

    python -m bench.lock_hold [--submissions 500]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from speakup import create_app, demo, migrate
from speakup.settings import Settings

PASSWORD = demo.DEMO_PASSWORD
SECRET = "bench-lock-hold-" * 3


def measure(submissions: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as home:
        url = f"sqlite:///{Path(home) / 'lock.db'}"
        migrate.upgrade(url)
        settings = Settings(env="development", database_url=url, secret_key=SECRET,
                            instance_path=Path(home),
                            ratelimit_intake_per_client="1000000 per hour")
        app = create_app(settings)
        runtime = app.extensions["speakup"]
        demo.seed(runtime.database, settings=settings, reports=0)
        database = runtime.database
        began: list[float] = []
        held: list[float] = []

        def on_begin(connection: Any) -> None:
            if connection.get_execution_options().get("sqlite_begin") == "IMMEDIATE":
                began.append(time.perf_counter())

        def after_commit(_session: Any) -> None:  # after the driver's COMMIT returned
            if began:
                held.append((time.perf_counter() - began.pop()) * 1000)

        event.listen(database.engine, "begin", on_begin)
        event.listen(database.write_sessions, "after_commit", after_commit)
        client = app.test_client()
        signed_in: Any = client.post("/api/v1/auth/login", json={
            "email": "nurse@demo.speakup.test", "password": PASSWORD}).json
        token = signed_in["access_token"]
        listed: Any = client.get("/api/v1/units?limit=200",
                                 headers={"Authorization": f"Bearer {token}"}).json
        units = listed["items"]
        unit_id = next(u["id"] for u in units if u["code"] == "DEMO-MED-W7")
        body = {"kind": "concern", "category": "patient_safety", "unit_id": unit_id,
                "description": "The bed alarm in bay 2 is not heard at the desk."}
        results: dict[str, list[float]] = {}
        for name, headers, extra in (("named", {"Authorization": f"Bearer {token}"}, {}),
                                     ("anonymous", {}, {"anonymous": True})):
            held.clear()
            for _ in range(submissions):
                response = client.post("/api/v1/reports", json={**body, **extra},
                                       headers=headers)
                assert response.status_code == 201, response.json
            results[name] = list(held)
        runtime.close()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=500)
    args = parser.parse_args()
    for name, held in measure(args.submissions).items():
        q = statistics.quantiles(held, n=100)
        print(f"{name:<10} write lock held: median {statistics.median(held):.2f} ms, "
              f"p90 {q[89]:.2f} ms, p99 {q[98]:.2f} ms over {len(held)} submissions")


if __name__ == "__main__":
    main()
