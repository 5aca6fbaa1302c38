# The two set-up commands of the README, and the checks.
#   make app   -> venv + install + (demo store if missing) + dashboard on http://localhost:8501
#   make test  -> venv + install (+ Debian chromium for the browser test, bubblewrap for the code sandbox)
#                 + lint, layering, the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)

.PHONY: app test checks demo bench install system-packages

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

# Debian packages the tests use, as PACKAGE:COMMAND; a missing one only skips its tests
# (chromium: the browser test; bubblewrap: the bwrap mode of the code sandbox)
SYSTEM_PACKAGES := chromium:chromium bubblewrap:bwrap

system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $${p#*:} >/dev/null || missing="$$missing $${p%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	    || echo "not installed:$$missing (their tests will be skipped)"; \
	fi

demo: install
	$(BIN)/grokviz demo --store data

app: install
	$(BIN)/grokviz app --store data --build-demo

test: install system-packages
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

checks: test

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done
