# Everything a person does with this project, one target each. `make` lists them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
IMAGE  ?= pakrel-classifier:latest

# What a model depends on: the corpus, analysts' corrections and the code that builds it.
MODEL_INPUTS := data/codebook.toml data/partners.toml $(wildcard data/articles/*.txt) $(wildcard data/feedback/*.sqlite3) \
                $(wildcard training/*.py) $(wildcard service/model/*.py)

.DEFAULT_GOAL := help
.PHONY: help install system-deps validate corpus-stats train evaluate serve test lint bench bulk suggest \
        rollback examples screenshot docker-build docker-run

help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z-]*:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

install: $(STAMP) ## create .venv and install the project with its dev tools (pinned by constraints.txt)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

system-deps: ## install what the browser and PostgreSQL tests and the benchmark need (Debian chromium, postgresql, wrk; as root, once)
	@bash .ci/system-deps.sh

validate: ## check every corpus file against the codebook (works before install; partner names need it)
	$(if $(wildcard $(BIN)/python),$(BIN)/python,$(PYTHON)) -m training validate

corpus-stats: ## corpus statistics as a table (add ARGS=--json for JSON)
	$(PYTHON) -m training stats $(ARGS)

train: models/CURRENT ## validate, select, fit, evaluate and save a model (only when data or code changed; FEEDBACK=postgresql://...)

models/CURRENT: $(STAMP) $(MODEL_INPUTS)
	$(BIN)/python -m training train $(if $(FEEDBACK),--feedback $(FEEDBACK))

evaluate: $(STAMP) ## rewrite models/metrics.json and models/report.md for the current model
	$(BIN)/python -m training evaluate

serve: $(STAMP) ## serve the current model on http://$(HOST):$(PORT) with PAKREL_WORKERS workers (default: one per core)
	$(BIN)/python -m service.api.serve --host $(HOST) --port $(PORT)

test: $(STAMP) system-deps ## run the whole test suite (browser and Docker tests included)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff, and the package layering contracts of pyproject.toml (import-linter)
	$(BIN)/ruff check service training tests bench
	$(BIN)/lint-imports

bench: $(STAMP) system-deps ## speed and memory benchmark: prints a table, writes bench/results/latest.json
	$(BIN)/python -m bench.run $(ARGS)

suggest: $(STAMP) ## rank paragraphs of data/unlabelled/*.txt by model uncertainty (what to label next)
	$(BIN)/python -m training suggest $(ARGS)

bulk: $(STAMP) ## label an archive: make bulk IN=archive.jsonl OUT=labels.jsonl [JOBS=N] [ARGS=...]
	$(BIN)/pakrel-bulk classify --in $(IN) --out $(OUT) $(if $(JOBS),--jobs $(JOBS)) $(ARGS)

rollback: $(STAMP) ## point models/CURRENT back at the previous model (then reload the service)
	$(BIN)/python -m training rollback

examples: $(STAMP) ## regenerate the OpenAPI response example from the current model
	$(BIN)/python -m service.api.examples_refresh

screenshot: $(STAMP) system-deps ## docs/page.png: the analyst's page with a classified seed article (shipped model)
	$(BIN)/python -m tests.test_page_browser

docker-build: ## build the image (classic builder, host network)
	docker build --network host -t $(IMAGE) .

docker-run: ## run the image on http://$(HOST):$(PORT) with the models/ folder mounted
	docker run --rm --network host -v "$(CURDIR)/models:/app/models:ro" $(IMAGE) \
	    python -m service.api.serve --host $(HOST) --port $(PORT)
