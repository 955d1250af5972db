# The two commands of the README: `make run` and `make test`.
# Each creates .venv with the project installed when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit openapi bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "speakup needs Python 3.11 or newer (set PYTHON=python3.x)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/speakup db upgrade
	$(BIN)/speakup demo
	$(BIN)/speakup serve --bind 127.0.0.1:8000

lint: $(STAMP)
	$(BIN)/ruff check speakup tests migrations bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

openapi: $(STAMP)
	$(BIN)/speakup openapi --output openapi.yaml

# speakup beside a thin Flask + SQLAlchemy app under wrk (Debian's package): SQLite, and
# PostgreSQL too when SPEAKUP_BENCH_DATABASE_URL names a server to create scratch databases on,
# e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres.  Then the same at a million reports
# (metrics beside hand-written SQL, the huddle, inbox and submission, memory; BENCH_REPORTS
# changes the size).  Writes bench/results.md.
BENCH_REPORTS ?= 1000000
bench: $(STAMP)
	$(BIN)/python -m bench.run $(if $(SPEAKUP_BENCH_DATABASE_URL),--postgres '$(SPEAKUP_BENCH_DATABASE_URL)')
	$(BIN)/python -m bench.scale --reports $(BENCH_REPORTS) $(if $(SPEAKUP_BENCH_DATABASE_URL),--postgres '$(SPEAKUP_BENCH_DATABASE_URL)')
	$(BIN)/python -m bench.lock_hold

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
