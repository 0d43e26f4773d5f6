# Two commands do all the set-up: `make run` serves the CSMS on the embedded defaults
# (SQLite, in-memory channel layer) with the runtime dependencies only; `make test` adds the
# dev extra and runs the test suite.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 0.0.0.0
PORT ?= 8000

# What `make emulate` passes to `manage.py emulate` (stations against this CSMS on PORT).
EMULATE_ARGS ?= --create-tags --count 20 --ocpp 1.6,2.0.1,2.1 --meter-interval 5 --plug-in-after 3 \
	--charge-seconds 60 --duration 600

.PHONY: run test lint format venv runtime migrate superuser emulate screenshots clean

# The dev extra (tests, linters); it includes the runtime dependencies.
$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(BIN)/.runtime

# The runtime dependencies only: what serving the CSMS needs.
$(BIN)/.runtime: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

venv: $(BIN)/.installed

runtime: $(BIN)/.runtime

migrate: runtime
	$(BIN)/python manage.py migrate --noinput

run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py serve --bind $(HOST) --port $(PORT)

# An operator account for the admin: asks for name and password, or takes them from
# DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_PASSWORD and DJANGO_SUPERUSER_EMAIL when set.
superuser: migrate
	$(BIN)/python manage.py createsuperuser $(if $(DJANGO_SUPERUSER_PASSWORD),--noinput)

# Emulated stations charging against the CSMS that `make run` serves.
emulate: runtime
	$(BIN)/python manage.py emulate --url ws://127.0.0.1:$(PORT)/ocpp $(EMULATE_ARGS)

test: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

# The console's screenshots in docs/ (*.png), taken by the browser tests (Chromium).
screenshots: venv
	CSMS_SCREENSHOTS=docs $(BIN)/pytest tests/test_browser.py -p no:cacheprovider

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache db.sqlite3 .test-db.sqlite3
