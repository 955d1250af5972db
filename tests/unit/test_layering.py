"""The layers: services are the domain and know nothing of the web; models know only the
core; routes and schemas sit on top."""

import subprocess
import sys

import pytest

# Each package and what it must never import (directly or through what it imports).
FORBIDDEN = {
    "speakup.services": ("flask", "flask_", "speakup.routes", "speakup.schemas",
                         "marshmallow", "speakup.app"),
    "speakup.models": ("flask", "speakup.routes", "speakup.schemas", "speakup.services.auth",
                       "speakup.services.org", "speakup.services.reports",
                       "speakup.services.routing"),
}


@pytest.mark.parametrize("package", FORBIDDEN)
def test_a_layer_imports_nothing_above_it(package: str) -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        f"root = importlib.import_module({package!r})\n"
        "for m in pkgutil.walk_packages(root.__path__, root.__name__ + '.'):\n"
        "    importlib.import_module(m.name)\n"
        f"bad = sorted(n for n in sys.modules if n.startswith({FORBIDDEN[package]!r}))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "", f"{package} imported: {result.stdout}"
