# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# `make run` installs what the application needs; `make test` adds the test tools (browsers excluded).
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/pip install --quiet --quiet --disable-pip-version-check
# The run path skips byte-compiling every installed file (scipy, pandas, Django… tens of thousands of
# modules): Python compiles the few hundred it imports on first use. The largest part of pip's time.
PIP_RUN := $(PIP) --no-compile

.PHONY: run test venv lint translations messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The application's dependencies only, read from pyproject.toml: the project runs from this folder, so
# nothing is built (no editable wheel, no build environment to set up).
$(RUN_STAMP): $(BIN)/python pyproject.toml
	@echo "Installing the dependencies into $(VENV)…"
	$(BIN)/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > $(VENV)/requirements.txt
	$(PIP_RUN) -r $(VENV)/requirements.txt
	touch $(RUN_STAMP)

$(DEV_STAMP): $(BIN)/python pyproject.toml
	$(PIP) -e ".[dev]"
	touch $(RUN_STAMP) $(DEV_STAMP)

venv: $(DEV_STAMP)

translations: $(RUN_STAMP)
	$(BIN)/python manage.py compile_translations -v0 > /dev/null

# Extract the strings to translate (without source locations, so the catalogues only change with the text).
messages: venv
	$(BIN)/python manage.py makemessages -l fr -l en --no-location -i ".venv/*" -i "tests/*" -i "bench/*" -i "var/*"

# No collectstatic on this path: local settings serve the static files from their folders (whitenoise).
# The translations compile on the second core while the database is migrated (both only need the venv).
run: $(RUN_STAMP)
	mkdir -p var
	@echo "Preparing the database…"
	@$(BIN)/python manage.py compile_translations -v0 > /dev/null & translations=$$!; \
	  $(BIN)/python manage.py migrate --noinput -v0; migrated=$$?; \
	  wait $$translations && exit $$migrated
	@echo "Loading the demo data (the first time takes a minute)…"
	$(BIN)/python manage.py seed_demo -v0 --no-forecast --logins-file var/demo-logins.txt
	bin/serve

# The suite runs on one pytest-xdist worker per core, at most four (each has its own test database and,
# for the fault tests, its own Redis and web ports); a file's tests stay on one worker. TEST_WORKERS=0: serial.
TEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print(min(4, len(os.sched_getaffinity(0))))")
test: venv translations
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var tests/e2e/artifacts
