"""Services are the domain: importing them must not pull in Flask."""

import subprocess
import sys


def test_importing_services_does_not_import_flask():
    code = (
        "import importlib, pkgutil, sys, speakup.services as s\n"
        "for m in pkgutil.iter_modules(s.__path__):\n"
        "    importlib.import_module(f'speakup.services.{m.name}')\n"
        "bad = sorted(n for n in sys.modules if n == 'flask' or n.startswith('flask_') "
        "or n.startswith('flask.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "", f"services imported: {result.stdout}"
