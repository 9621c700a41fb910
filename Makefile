# Two commands matter: `make run` (fresh clone to a running demo) and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Tests run on SQLite unless DATABASE_URL is set (CI sets it for PostgreSQL).
PYTEST_ARGS ?= -n 2

.PHONY: run test check lint format system-deps bench clean

$(BIN)/nephro: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# Debian packages the service and its tests use: Chromium (browser tests), dcmtk (DICOM
# peers), orthanc (the benchmark's peer), the PDF fonts (DejaVu; Droid Sans Fallback for
# Chinese, Japanese, Korean). Installed only when missing, and only as root.
system-deps:
	@missing=""; \
	for pair in chromium:chromium dcmtk:storescu orthanc:Orthanc; do \
	  pkg=$${pair%%:*}; cmd=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	for pair in fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf \
	    fonts-droid-fallback:/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf; do \
	  [ -f $${pair##*:} ] || missing="$$missing $${pair%%:*}"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "please install:$$missing (apt-get)"; exit 1; fi; \
	fi

run: $(BIN)/nephro
	NEPHRO_DEMO=true $(BIN)/nephro migrate --noinput
	NEPHRO_DEMO=true $(BIN)/nephro demo
	NEPHRO_DEMO=true $(BIN)/nephro serve --host $(HOST) --port $(PORT)

# The suite's independent FHIR validator and MLLP client (Node 20; pinned by the lock file).
tests/interop/node_modules/.package-lock.json: tests/interop/package-lock.json
	npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error

test: $(BIN)/nephro system-deps tests/interop/node_modules/.package-lock.json
	NEPHRO_DEMO=true $(BIN)/nephro makemigrations --check --dry-run
	NEPHRO_DEMO=true $(BIN)/pytest $(PYTEST_ARGS)

check: $(BIN)/nephro
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python tools/check_limits.py
	$(BIN)/vulture

format: $(BIN)/nephro
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/nephro system-deps
	$(BIN)/python bench/analysis_speed.py
	$(BIN)/python bench/analysis_accuracy.py

clean:
	rm -rf $(VENV) var build *.egg-info
