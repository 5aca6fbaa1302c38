# The two set-up commands of the README, and the checks.
#   make app   -> venv + install + (demo store if missing) + dashboard on http://localhost:8501
#   make test  -> venv + install (+ Debian chromium for the browser test) + lint, layering, the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: app test checks demo bench install browser

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "chromium not installed: the browser test will be skipped"

demo: install
	$(BIN)/grokviz demo --store data

app: install
	$(BIN)/grokviz app --store data --build-demo

test: install browser
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

checks: test

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done
