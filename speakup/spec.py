"""The OpenAPI document, generated from the code: routes, schemas and docstrings."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import yaml


def spec_dict() -> dict[str, Any]:
    """The spec of an app built on a throwaway configuration (nothing is connected)."""
    from speakup import create_app
    from speakup.runtime import Runtime
    from speakup.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(database_url=f"sqlite:///{tmp}/spec.db", secret_key="s" * 48,
                            instance_path=Path(tmp), argon2_memory_kib=8, argon2_time_cost=1)
        runtime = Runtime.build(settings)
        app = create_app(runtime=runtime)
        raw = app.extensions["speakup.api"].spec.to_dict()
        runtime.close()
    # Through JSON, so the dict compares equal to one parsed back from the YAML file.
    result: dict[str, Any] = json.loads(json.dumps(raw))
    return result


def render() -> str:
    return yaml.safe_dump(spec_dict(), sort_keys=True, allow_unicode=True, width=100)
