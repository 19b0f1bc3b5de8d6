# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test venv lint translations messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

translations: venv
	$(BIN)/python manage.py compile_translations -v0 > /dev/null

# Extract the strings to translate (without source locations, so the catalogues only change with the text).
messages: venv
	$(BIN)/python manage.py makemessages -l fr -l en --no-location -i ".venv/*" -i "tests/*" -i "bench/*" -i "var/*"

run: venv translations
	mkdir -p var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py seed_demo
	bin/serve

test: venv translations
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var tests/e2e/artifacts
