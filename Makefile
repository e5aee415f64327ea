# dscr: the two commands for a fresh machine are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DSCR_DATA_DIR ?= $(CURDIR)/var
export DSCR_DATA_DIR

.PHONY: demo test bench browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## make demo: install, migrate the embedded SQLite database, load demo data once, start the dashboard
demo: $(STAMP)
	$(BIN)/dscr db upgrade
	mkdir -p $(DSCR_DATA_DIR)/scan-inbox
	$(BIN)/dscr demo-data --participants 300 --seed 1 --if-empty --accounts-file $(DSCR_DATA_DIR)/demo-accounts.txt
	@echo "Demo accounts (synthetic data only; also in $(DSCR_DATA_DIR)/demo-accounts.txt):"
	@cat $(DSCR_DATA_DIR)/demo-accounts.txt
	@echo "Dashboard: http://127.0.0.1:8501"
	$(BIN)/streamlit run dashboard/serve.py --server.address 127.0.0.1 --server.port 8501 --server.headless true

## make test: the same set-up, the browser for the end-to-end tests, then the whole suite
test: $(STAMP) browser
	$(BIN)/python -m pytest

browser:
	bash scripts/ensure-browser.sh

## make bench: the benchmarks (ratios against a baseline measured in the same run), JSON in bench/results/
bench: $(STAMP)
	mkdir -p bench/results
	$(BIN)/python -m bench.detection --json bench/results/detection.json
	$(BIN)/python -m bench.models --json bench/results/models.json
	$(BIN)/python -m bench.load --json bench/results/load.json
	$(BIN)/python -m bench.dashboard --json bench/results/dashboard.json
	$(BIN)/python -m bench.browser --json bench/results/browser.json
	$(BIN)/python -m bench.scale --json bench/results/scale.json
	$(BIN)/python -m bench.api --json bench/results/api.json

clean:
	rm -rf $(VENV) var
