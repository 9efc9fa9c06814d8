# cxg: harvest CZ CELLxGENE Discover into files, by composing small filters.
#
#   make            build the tools (release) and harvest the live API into $(DATA)/
#   make test       the whole test suite
#   make demo       the same harvest, offline, against the committed sample snapshot
#   make help       targets and variables
#
# Every stage writes to a temporary file renamed on success; with
# .DELETE_ON_ERROR and pipefail a failed or interrupted run never leaves a
# file that make would take as done, and a rerun redoes only what is
# missing or stale.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := harvest
MAKEFLAGS += --no-print-directory

API_URL ?= https://api.cellxgene.cziscience.com/curation/v1
DATA ?= data
JOBS ?= 8
PRESET ?= seed
CARGO ?= cargo
BIN ?= target/release
CARGO_BUILD ?= $(CARGO) build --locked --release --workspace --bins
PREFIX ?= /usr/local
DESTDIR ?=
SNAPSHOT ?= tests/fixtures/snapshot
DEMO ?= demo

# Every path variable must be one word: make splits a value at whitespace,
# so "my data/out" would write into data/out here and remove "my". Such
# values (and quotes, and empty required paths) are refused before anything
# runs. Add new path variables to PATH_VARS.
PATH_VARS := DATA DEMO BIN SNAPSHOT PREFIX DESTDIR OUT
REQUIRED_PATHS := DATA DEMO BIN SNAPSHOT
space := $(subst ,, )
tab := $(subst ,,	)
bad_path = $(or $(findstring $(space),$($(1))),$(findstring $(tab),$($(1))),$(findstring ",$($(1))),$(findstring ',$($(1))))
$(foreach v,$(PATH_VARS),$(if $(call bad_path,$(v)),$(error $(v)="$($(v))" contains whitespace or a quote; make would split it and read, write or remove the wrong folder. Use a path without spaces, e.g. a symlink: ln -s "/path/my data" /tmp/mydata; make $(v)=/tmp/mydata)))
$(foreach v,$(REQUIRED_PATHS),$(if $(strip $($(v))),,$(error $(v) is empty; it must name a folder)))

# $(call atomic,COMMAND): run COMMAND > $@.tmp, rename it to $@ only on
# success; the .tmp file is removed on failure and on SIGINT/SIGTERM/SIGHUP
# (the shell then exits 130/143/129, as the tools do).
atomic = trap 'rm -f "$@.tmp"' EXIT; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(1) > "$@.tmp"; mv "$@.tmp" "$@"

# $(call rm_rf,PATH): remove PATH, refusing an empty path, /, the home
# folder, and this repository or any folder holding it.
rm_rf = d=$$(realpath -m -- "$(1)"); \
	if [ -z "$(strip $(1))" ] || [ "$$d" = / ] || [ "$$d" = "$$(realpath -m -- "$$HOME")" ] || \
	   case "$(CURDIR)/" in "$$d"/*) true;; *) false;; esac; then \
	  echo "make: refusing to remove '$(1)' ($$d): it is /, your home folder or holds this repository" >&2; exit 2; \
	fi; rm -rf -- "$$d"

TOOLS := cxg-fetch cxg-split cxg-datasets cxg-tocsv cxg-h5ad cxg-serve cxg-gen cxg-obs

# One variable per stage: swap any of them for jq or another tool, e.g.
#   make SPLIT="jq -c '.[]'"
FETCH ?= "$(BIN)/cxg-fetch" --api-url "$(API_URL)"
SPLIT ?= "$(BIN)/cxg-split"
SPLIT_FILES ?= "$(BIN)/cxg-split" --out-dir "$(DATA)/collections"
DATASETS ?= "$(BIN)/cxg-datasets" --index "$(DATA)/datasets_index.json"
TOCSV ?= "$(BIN)/cxg-tocsv" --preset $(PRESET)
H5AD ?= "$(BIN)/cxg-h5ad" --api-url "$(API_URL)" -j $(JOBS)
OBS ?= "$(BIN)/cxg-obs" -j $(JOBS)

OUTPUTS := $(DATA)/collections.json $(DATA)/collections.jsonl $(DATA)/collections.list \
	$(DATA)/datasets.jsonl $(DATA)/all_datasets.csv $(DATA)/datasets_index.json \
	$(DATA)/all_datasets_h5ad.csv

.PHONY: harvest build stages refresh clean demo test lint bench install help obs

## harvest: build the tools if needed, then harvest $(API_URL) into $(DATA)/ (default)
harvest: build
	@start=$$(date +%s); $(MAKE) stages; \
	t=$$(stat -c %Y "$(DATA)/collections.json"); age=$$(( $$(date +%s) - t )); \
	if [ "$$t" -ge "$$start" ]; then \
	  echo "harvest complete: $(DATA)/all_datasets_h5ad.csv (fetched just now from $(API_URL))"; \
	else \
	  if [ $$age -ge 172800 ]; then a="$$((age / 86400)) days"; elif [ $$age -ge 7200 ]; then a="$$((age / 3600)) hours"; \
	  else a="$$((age / 60)) minutes"; fi; \
	  echo "harvest complete: $(DATA)/all_datasets_h5ad.csv, from data fetched $$a ago ($$(date -u -d @$$t '+%Y-%m-%d %H:%M UTC')); nothing was fetched now: make refresh fetches anew"; \
	fi

## build: release binaries of every tool (cargo build --locked)
build:
	$(CARGO_BUILD)

stages: $(OUTPUTS)

# 1. every public collection
$(DATA)/collections.json:
	@mkdir -p "$(@D)"
	$(FETCH) collections -o "$@"

# 2. one collection per line (swappable: SPLIT="jq -c '.[]'")
$(DATA)/collections.jsonl: $(DATA)/collections.json
	$(call atomic,$(SPLIT) < "$<")

# 2b. one file per collection, for inspection; the list of files is the target
$(DATA)/collections.list: $(DATA)/collections.jsonl
	@$(call rm_rf,$(DATA)/collections)
	$(call atomic,$(SPLIT_FILES) < "$<")

# 3. one dataset per line with its collection, each preview replaced by its
#    full record from the index (cell counts, titles, assets: PRESET=full)
$(DATA)/datasets.jsonl: $(DATA)/collections.jsonl $(DATA)/datasets_index.json
	$(call atomic,$(DATASETS) < "$<")

# 4. the harvester CSV
$(DATA)/all_datasets.csv: $(DATA)/datasets.jsonl
	$(call atomic,$(TOCSV) < "$<")

# 1b. the full datasets index that cxg-h5ad joins against
$(DATA)/datasets_index.json:
	@mkdir -p "$(@D)"
	$(FETCH) datasets -o "$@"

# 5. cell counts and H5AD links
$(DATA)/all_datasets_h5ad.csv: $(DATA)/all_datasets.csv $(DATA)/datasets_index.json
	$(call atomic,$(H5AD) --index "$(DATA)/datasets_index.json" --failures "$(DATA)/h5ad_failures.csv" "$<")

## obs: cell-level summaries of the downloaded H5ADs ($(DATA)/h5ad/manifest.csv) into
##      $(DATA)/obs.jsonl, and all_datasets_h5ad.csv with them as $(DATA)/all_datasets_obs.csv
obs: build
	@$(MAKE) $(DATA)/obs.jsonl $(DATA)/all_datasets_obs.csv

# 6. per file: cells that are normal, primary, donors, cells per term of each facet
$(DATA)/obs.jsonl: $(DATA)/h5ad/manifest.csv
	$(call atomic,$(OBS) "$<")

# 7. the harvester CSV with normal_cell_count, primary_cell_count, donor_count
$(DATA)/all_datasets_obs.csv: $(DATA)/obs.jsonl $(DATA)/all_datasets_h5ad.csv
	$(call atomic,"$(BIN)/cxg-obs" --join "$(DATA)/all_datasets_h5ad.csv" "$<")

## refresh: fetch the API again and redo every stage
refresh:
	rm -f "$(DATA)/collections.json" "$(DATA)/datasets_index.json"
	@$(MAKE) harvest

## clean: remove $(DATA)/ and $(DEMO)/ (the binaries stay; cargo clean removes them)
clean:
	@$(call rm_rf,$(DATA)); $(call rm_rf,$(DEMO))

## demo: the same harvest with no network, from $(SNAPSHOT) served by cxg-serve, into $(DEMO)/
demo: build
	BIN="$(BIN)" SNAPSHOT="$(SNAPSHOT)" DEMO="$(DEMO)" JOBS=$(JOBS) PRESET=$(PRESET) scripts/demo.sh

## test: build, then run every test (unit, integration, end-to-end)
test:
	CARGO="$(CARGO)" scripts/test.sh

## lint: rustfmt check and clippy with warnings as errors
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

## bench: measure every stage against jq and the whole pipeline (not part of test)
bench: build
	BIN="$(BIN)" scripts/bench.sh
	BIN="$(BIN)" scripts/bench_obs.sh

## install: copy the tools to $(DESTDIR)$(PREFIX)/bin
install: build
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 755 $(addprefix $(BIN)/,$(TOOLS)) "$(DESTDIR)$(PREFIX)/bin/"

## help: this list
help:
	@echo "targets:"
	@sed -n 's/^## /  /p' $(MAKEFILE_LIST)
	@echo "variables (make VAR=value):"
	@echo "  API_URL=$(API_URL)"
	@echo "  DATA=$(DATA)  JOBS=$(JOBS)  PRESET=$(PRESET) (seed|full)  BIN=$(BIN)"
	@echo "  FETCH SPLIT SPLIT_FILES DATASETS TOCSV H5AD OBS: the command of each stage"
	@echo "  PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) (install)  SNAPSHOT=$(SNAPSHOT) DEMO=$(DEMO) (demo)"
