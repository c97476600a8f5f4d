# The two commands: `make run` and `make test`. Everything else here serves them.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
HOST    ?= 127.0.0.1
PORT    ?= 8080

RUN_DEBS  := fonts-noto-cjk fonts-hanazono fonts-babelstone-han libpango-1.0-0 libpangoft2-1.0-0 \
             libharfbuzz-subset0 fonts-dejavu-core
TEST_DEBS := chromium poppler-utils coturn openssl

.PHONY: run test lint typecheck pytest system-packages system-packages-test clean

# The demo runs in development mode: its secrets are public, and the outbox shows SMS links.
run: export MEDIATION_MODE := development
run: export MEDIATION_OUTBOX_SHOWS_LINKS := true
run: $(VENV)/.installed system-packages
	$(PY) -m app migrate
	$(PY) -m app seed-demo
	$(PY) -m app serve --host $(HOST) --port $(PORT)

test: $(VENV)/.installed-dev system-packages system-packages-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -q -ra

$(VENV)/bin/python:
	python3 -m venv $(VENV) || { sh .ci/apt-ensure python3-venv && rm -rf $(VENV) && python3 -m venv $(VENV); }
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[dev]'
	touch $(VENV)/.installed $@

system-packages:
	@sh .ci/apt-ensure $(RUN_DEBS)

system-packages-test:
	@sh .ci/apt-ensure $(TEST_DEBS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
