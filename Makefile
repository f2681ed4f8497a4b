# The two commands of the quickstart: `make run` and `make test`.
# Both create their own virtualenv (.venv) and install the project into it,
# so a fresh machine needs nothing but Python 3.11 and pip.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# Test tiers (Hypothesis `tests/README.md` style): `test-fast` for every edit,
# `test` for every commit and for CI (it includes the slow tier).
PYTEST_FAST := -m "not slow"
# Three workers for two cores: most of the suite is CPU-bound (simulation sweeps,
# Hypothesis, CrossHair), but the real-process tests spend much of their time waiting on
# their nodes (tests/cluster: about 170 s of CPU in 291 s), and the third worker uses the
# core such a test leaves idle. Tests are handed out one at a time in collection order,
# which puts the slow tier first (tests/conftest.py): every long test starts early and the
# short ones fill the end, so no worker idles while another finishes a long test.
PYTEST_PARALLEL ?= -n 3 --dist load --maxschedchunk 1

.PHONY: run test test-fast bytecode lint typecheck crosshair docs docs-deps browser-deps prove mutate clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dynamokv demo

prove: $(STAMP)
	$(BIN)/dynamokv prove

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy cannot follow setuptools' package-dir mapping (dynamokv.spec lives in
# spec/), so it checks a tree of symlinks laid out as the installed package.
TYPETREE := $(VENV)/typetree
typecheck: $(STAMP)
	@rm -rf $(TYPETREE) && mkdir -p $(TYPETREE)/dynamokv
	@for d in spec proofs impl labs; do ln -s $(CURDIR)/$$d $(TYPETREE)/dynamokv/$$d; done
	cd $(TYPETREE) && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml \
		--cache-dir $(CURDIR)/.mypy_cache -p dynamokv.spec -p dynamokv.proofs \
		-p dynamokv.impl -p dynamokv.labs

# CrossHair checks every icontract contract in spec/, at two CPU seconds per condition.
# `make test` runs the same search one spec module per test (tests/spec/test_spec_crosshair.py),
# so the pytest workers share it; `make crosshair CROSSHAIR_TIMEOUT=30` searches deeper.
CROSSHAIR_TIMEOUT ?= 2
crosshair: $(STAMP)
	$(BIN)/python -m dynamokv.impl.cli._crosshair check --analysis_kind=icontract \
		--per_condition_timeout=$(CROSSHAIR_TIMEOUT) spec/

# Mutation score of spec/, proofs/ and impl/core/ (cosmic-ray, in place; resumable).
# CPU-heavy: on demand only, never in `make test`. MUTATE_ARGS="--package spec" for one
# package, "--minutes 30" to judge a random sample of every module (an estimate with its
# 95% interval; the sessions resume later), "--report" to print the scores so far,
# "--save-verdicts" to keep the verdicts in tests/mutation/verdicts/ (a fresh clone resumes).
MUTATE_ARGS ?=
mutate: $(STAMP)
	nice -n 15 $(BIN)/python tests/mutation/run.py $(MUTATE_ARGS)

# Debian packages the docs (Graphviz, MathJax) and the browser tests (Chromium and its
# driver) need; installed with apt-get when missing (as root), otherwise named.
docs-deps: $(STAMP)
	@$(BIN)/python -m dynamokv.impl.cli._debian docs

browser-deps: $(STAMP)
	@$(BIN)/python -m dynamokv.impl.cli._debian browser

# The site: -W (a warning fails), -n (every cross-reference must resolve). Pictures are
# drawn from the code and real runs during the build. tests/docs builds the same site and
# checks it in Chromium, so `make test` does not build it twice.
SPHINX_OPTS := -W -n --keep-going -q -b html
docs: docs-deps
	$(BIN)/sphinx-build $(SPHINX_OPTS) docs docs/_build/html

# Every Python process of the suite imports the project's sources: the pytest workers and
# the few hundred processes the tests start (node processes, CrossHair runs, CLI calls, the
# storage crash loop's writers). Where the environment sets PYTHONDONTWRITEBYTECODE none of
# them may cache what it compiles, and each compiles the same modules again (about 0.15 CPU
# seconds of a node process's start). The tests compile the sources once, before the
# workers start (into __pycache__, ignored by git; a file edited later is compiled again,
# since Python checks each cached file against its source's time and size).
SOURCES := spec proofs impl labs
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q $(SOURCES) tests docs/_ext >/dev/null

test-fast: $(STAMP)
	$(MAKE) --no-print-directory lint typecheck bytecode
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) $(PYTEST_FAST)

test: $(STAMP)
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory lint typecheck docs-deps browser-deps bytecode && \
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) --durations=15 && \
	echo "make test: all green in $$(( $$(date +%s) - start )) s"

clean:
	rm -rf $(VENV) docs/_build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find $(SOURCES) tests docs -name __pycache__ -prune -exec rm -rf {} +
