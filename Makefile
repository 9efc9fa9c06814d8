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
SNAPSHOT ?= tests/fixtures/sample
DEMO ?= demo
SNAPSHOTS ?= $(DATA)/snapshots
REQUEST_LOG ?= $(DATA)/requests.jsonl
ONTOLOGY_RELEASE ?=
PYTHON ?= python3
# the pinned anndata that tests/subset.rs checks cxg-subset's files with
ANNDATA_VENV ?= .venv-anndata
# CELLxGENE's validator (cellxgene-schema), which tests/subset.rs runs on a subset
CXGSCHEMA_VENV ?= .venv-cxgschema
# H5AD files subset at a time (each holds a window of rows and its obs table)
SUBSET_JOBS ?= 2
VENV ?= .venv-workflow
SNAKEMAKE ?= $(VENV)/bin/snakemake
SNAKEMAKE_ARGS ?=

# Every path variable must be one word of plain path characters: make
# splits a value at whitespace (so "my data/out" would write into data/out
# and remove "my"), and the recipes hand the values to a shell, where a
# quote, `, $(, ;, |, &, <, > would run a command. A path variable may hold
# letters, digits and / . _ - + , @ only (ASCII; ':' and '=' would break
# make's own rule and assignment syntax); any other character
# (and an empty required path) is refused, naming the variable, before
# anything runs. Add new path variables to PATH_VARS.
PATH_VARS := DATA DEMO BIN SNAPSHOT PREFIX DESTDIR ONTOLOGY ONTOLOGY_PINS SNAPSHOTS REQUEST_LOG VENV
REQUIRED_PATHS := DATA DEMO BIN SNAPSHOT VENV
comma := ,
path_chars := a b c d e f g h i j k l m n o p q r s t u v w x y z \
	A B C D E F G H I J K L M N O P Q R S T U V W X Y Z 0 1 2 3 4 5 6 7 8 9 \
	/ . _ - + $(comma) @
# $(call drop_chars,TEXT,CHARS): TEXT without any of the words of CHARS
drop_chars = $(if $(2),$(call drop_chars,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
bad_path = $(call drop_chars,$($(1)),$(path_chars))
$(foreach v,$(PATH_VARS),$(if $(call bad_path,$(v)),$(error $(v)="$($(v))" holds characters a path variable may not: [$(call bad_path,$(v))]. Whitespace would make make split it and read, write or remove the wrong folder; a quote, `, $$, ;, |, &, <, > would make the shell run a command. Use letters, digits and / . _ - + $(comma) @ only, e.g. a symlink: ln -s "/path/my data" /tmp/mydata; make $(v)=/tmp/mydata)))
$(foreach v,$(REQUIRED_PATHS),$(if $(strip $($(v))),,$(error $(v) is empty; it must name a folder)))

# $(call atomic,COMMAND): run COMMAND > $@.tmp, rename it to $@ only on
# success; the .tmp file is removed on failure and on SIGINT/SIGTERM/SIGHUP
# (the shell then exits 130/143/129, as the tools do).
atomic = trap 'rm -f "$@.tmp"' EXIT; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; \
	$(1) > "$@.tmp"; mv "$@.tmp" "$@"

# $(call rm_rf,PATH): remove PATH, refusing an empty path, /, the home
# folder, and this repository or any folder holding it. A symbolic link is
# removed itself, never the folder it points to.
rm_rf = if [ -L "$(1)" ]; then rm -f -- "$(1)"; else \
	d=$$(realpath -m -- "$(1)"); \
	if [ -z "$(strip $(1))" ] || [ "$$d" = / ] || [ "$$d" = "$$(realpath -m -- "$$HOME")" ] || \
	   case "$(CURDIR)/" in "$$d"/*) true;; *) false;; esac; then \
	  echo "make: refusing to remove '$(1)' ($$d): it is /, your home folder or holds this repository" >&2; exit 2; \
	fi; rm -rf -- "$$d"; fi

# The binaries (installed by make install); the library crates under crates/ that
# they share install nothing of their own (make libs tests them alone).
LIBS := cxg-core cxg-json cxg-http cxg-catalog cxg-terms cxg-cells cxg-h5write
TOOLS := cxg-fetch cxg-split cxg-datasets cxg-tocsv cxg-h5ad cxg-serve cxg-gen cxg-obs cxg-select cxg-diff cxg-snapshot cxg-download cxg-report cxg-subset

# One variable per stage: swap any of them for jq or another tool, e.g.
#   make SPLIT="jq -c '.[]'"
FETCH ?= "$(BIN)/cxg-fetch" --api-url "$(API_URL)"
SPLIT ?= "$(BIN)/cxg-split"
SPLIT_FILES ?= "$(BIN)/cxg-split" --out-dir "$(DATA)/collections"
DATASETS ?= "$(BIN)/cxg-datasets" --index "$(DATA)/datasets_index.json"
TOCSV ?= "$(BIN)/cxg-tocsv" --preset $(PRESET)
H5AD ?= "$(BIN)/cxg-h5ad" --api-url "$(API_URL)" -j $(JOBS)
OBS ?= "$(BIN)/cxg-obs" -j $(JOBS)
SNAP ?= "$(BIN)/cxg-snapshot"
DIFF ?= "$(BIN)/cxg-diff"
DOWNLOAD ?= "$(BIN)/cxg-download" -j $(JOBS)

OUTPUTS := $(DATA)/collections.json $(DATA)/collections.jsonl $(DATA)/collections.list \
	$(DATA)/datasets.jsonl $(DATA)/all_datasets.csv $(DATA)/datasets_index.json \
	$(DATA)/all_datasets_h5ad.csv

.PHONY: libs
.PHONY: harvest build stages refresh clean demo test lint bench install help obs snapshot snapshots diff download downloads bench-download
.PHONY: workflow workflow-venv workflow-slurm report
.PHONY: subset anndata-venv cxgschema-venv

# Selection (cxg-select): SELECT holds its options, e.g.
#   make SELECT="--organism 'Homo sapiens' --tissue lung --exclude-assay 'spatial transcriptomics'"
# Empty SELECT keeps every dataset. The ontology files in $(ONTOLOGY) are used
# when present (make ontologies); SELECT_STAGE is the swappable command.
SELECT ?=
# one ontology folder per user, shared by every harvest: $CXG_ONTOLOGY, else
# $XDG_CACHE_HOME/cxg/ontology, else ~/.cache/cxg/ontology
ONTOLOGY ?= $(or $(CXG_ONTOLOGY),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/cxg/ontology)
ONTOLOGY_URL ?= https://raw.githubusercontent.com/chanzuckerberg/cellxgene-ontology-guide
ONTOLOGY_PINS ?= scripts/ontologies.pin
ONTOLOGY_SOURCE ?= auto
ONTOLOGY_WHEEL_URL ?=
ONTOLOGY_FILES = $(wildcard $(ONTOLOGY)/*-ontology-*.json $(ONTOLOGY)/*-ontology-*.json.zst)
SELECT_STAGE ?= "$(BIN)/cxg-select" $(if $(ONTOLOGY_FILES),--ontology "$(ONTOLOGY)") --verbose $(SELECT)

# The cell filter (cxg-obs, make obs): CELLS holds its options, e.g.
#   make obs CELLS="--normal --primary --min-age 18 --tissue lung"
# (cxg-select's facet options, --primary, --normal, --min-age/--max-age in
# years, --keep-unknown-age; terms and ages from $(ONTOLOGY)). Each record of
# obs.jsonl then counts the cells kept and names the filter. Empty: no filter.
CELLS ?=

# A harvest remembers its choices: the SELECT, CELLS, ONTOLOGY, API_URL and PRESET it
# ran with are kept in $(DATA)/choices/ (one file each, the value as given), and
# every later make with the same DATA (download, obs, refresh, diff, workflow)
# uses them unless they are given again (on the command line or in the
# environment); a new value replaces the kept one, and make says what changed.
CHOICES := SELECT CELLS ONTOLOGY API_URL PRESET
choice = $(DATA)/choices/$(1)
$(foreach v,$(CHOICES),$(if $(filter file default,$(origin $(v))),$(if $(wildcard $(call choice,$(v))),$(eval $(v) := $$(file <$(call choice,$(v)))))))
.PHONY: ontologies FORCE
FORCE:

## harvest: build the tools if needed, then harvest $(API_URL) into $(DATA)/ (default)
harvest: build
	@start=$$(date +%s); rm -f "$(REQUEST_LOG)"; $(MAKE) stages; $(MAKE) snapshot; $(MAKE) report; \
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

# (API_URL is remembered, but a new one does not refetch by itself: make refresh does)
stages: $(OUTPUTS) $(foreach v,$(CHOICES),$(call choice,$(v)))

# 1. every public collection
$(DATA)/collections.json:
	@mkdir -p "$(@D)"; echo "fetch: every public collection from $(API_URL) → $@"
	@$(FETCH) collections -o "$@"

# 2. one collection per line (swappable: SPLIT="jq -c '.[]'")
$(DATA)/collections.jsonl: $(DATA)/collections.json
	@echo "split: one collection per line → $@"
	@$(call atomic,$(SPLIT) < "$<")

# 2b. one file per collection, for inspection; the list of files is the target
$(DATA)/collections.list: $(DATA)/collections.jsonl
	@$(call rm_rf,$(DATA)/collections)
	@echo "split: one file per collection → $(DATA)/collections/"
	@$(call atomic,$(SPLIT_FILES) < "$<")

# 3. one dataset per line with its collection, each preview replaced by its
#    full record from the index (cell counts, titles, assets: PRESET=full)
$(DATA)/datasets.jsonl: $(DATA)/collections.jsonl $(DATA)/datasets_index.json
	@echo "datasets: one dataset per line, with its full record and collection → $@"
	@$(call atomic,$(DATASETS) < "$<")

# 3b. the selection (SELECT=...; empty: every dataset); stderr, with the ontology
# versions and SHA-256s used, is kept in selection.log beside it
$(DATA)/selected.jsonl: $(DATA)/datasets.jsonl $(DATA)/select.args $(call choice,SELECT) $(call choice,ONTOLOGY) $(ONTOLOGY_FILES)
	@echo "select: $${SELECT_ARGS:-every dataset (SELECT is empty)}$(if $(ONTOLOGY_FILES),, (no ontology files in $(ONTOLOGY): make ontologies)) → $@"
	@trap 'rm -f "$@.tmp" "$(DATA)/selection.log.tmp"' EXIT; trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM; \
	rc=0; $(SELECT_STAGE) < "$<" > "$@.tmp" 2> "$(DATA)/selection.log.tmp" || rc=$$?; \
	cat "$(DATA)/selection.log.tmp" >&2; [ $$rc -eq 0 ] || exit $$rc; \
	mv "$(DATA)/selection.log.tmp" "$(DATA)/selection.log"; mv "$@.tmp" "$@"

$(DATA)/selected.jsonl: export SELECT_ARGS := $(SELECT)

# the SELECT in force, rewritten only when it changes (so a new SELECT redoes the selection)
$(DATA)/select.args: export SELECT_ARGS := $(SELECT)
$(DATA)/select.args: FORCE
	@mkdir -p $(@D)
	@printf '%s\n' "$$SELECT_ARGS" > $@.new; if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

# one remembered choice, rewritten only when it changes (so that the stages
# it feeds are redone), saying what changed; a first record is dated 1970, so
# that it redoes nothing (a folder harvested before choices were kept)
$(DATA)/choices/%: export CHOICE = $($*)
$(DATA)/choices/%: FORCE
	@mkdir -p "$(@D)"; printf '%s\n' "$$CHOICE" > "$@.new"; \
	if cmp -s "$@.new" "$@"; then rm -f "$@.new"; else \
	  if [ -f "$@" ]; then echo "make: $* changed: '$$(cat "$@")' → '$$CHOICE' (kept in $@)$(if $(filter API_URL,$*),; what was fetched is kept: make refresh fetches from it)"; \
	  else touch -d @0 "$@.new"; fi; \
	  mv "$@.new" "$@"; fi

## ontologies: download the pinned cellxgene-ontology-guide files into $(ONTOLOGY)/, verifying SHA-256s
##   (from GitHub, else from the release's PyPI wheel; ONTOLOGY_SOURCE=github|pypi picks one)
##   and index them (cxg-select --prepare), so that the first selection is fast
ontologies: build
	DIR="$(ONTOLOGY)" ONTOLOGY_URL="$(ONTOLOGY_URL)" PINS="$(ONTOLOGY_PINS)" \
	  ONTOLOGY_SOURCE="$(ONTOLOGY_SOURCE)" ONTOLOGY_WHEEL_URL="$(ONTOLOGY_WHEEL_URL)" scripts/ontologies.sh
	"$(BIN)/cxg-select" --ontology "$(ONTOLOGY)" --prepare

# 4. the harvester CSV
$(DATA)/all_datasets.csv: $(DATA)/selected.jsonl $(call choice,PRESET)
	@echo "tocsv: the harvester CSV (preset $(PRESET)) → $@"
	@$(call atomic,$(TOCSV) < "$<")

# 1b. the full datasets index that cxg-h5ad joins against
$(DATA)/datasets_index.json:
	@mkdir -p "$(@D)"; echo "fetch: the full datasets index from $(API_URL) → $@"
	@$(FETCH) datasets -o "$@"

# 5. cell counts and H5AD links; the per-dataset answers (rows the index lacks) are
#    kept in $(DATA)/responses/ for the snapshot (emptied first: only this run's;
#    given through the environment, so that a swapped H5AD stage can ignore it)
$(DATA)/all_datasets_h5ad.csv: export CXG_KEEP_RESPONSES = $(DATA)/responses
$(DATA)/all_datasets_h5ad.csv: $(DATA)/all_datasets.csv $(DATA)/datasets_index.json
	@$(call rm_rf,$(DATA)/responses)
	@echo "h5ad: cell counts and H5AD links → $@ (rows not done: $(DATA)/h5ad_failures.csv)"
	@$(call atomic,$(H5AD) --index "$(DATA)/datasets_index.json" --failures "$(DATA)/h5ad_failures.csv" "$<")

## obs: cell-level summaries of the downloaded H5ADs ($(DATA)/h5ad/manifest.csv) into
##      $(DATA)/obs.jsonl, and all_datasets_h5ad.csv with them as $(DATA)/all_datasets_obs.csv
obs: build
	@$(MAKE) $(DATA)/obs.jsonl $(DATA)/all_datasets_obs.csv

## subset: the cells CELLS="..." keeps (the cell filter of make obs; none: every cell) of each
##         downloaded H5AD as $(DATA)/subset/<dataset_version_id>.h5ad, listed in $(DATA)/subset/manifest.csv
subset: build $(DATA)/h5ad/manifest.csv
	@mkdir -p "$(DATA)/subset"
	"$(BIN)/cxg-subset" -j $(SUBSET_JOBS) $(if $(strip $(CELLS)),$(if $(ONTOLOGY_FILES),--ontology "$(ONTOLOGY)") $(CELLS)) \
	  --out-dir "$(DATA)/subset" -o "$(DATA)/subset/manifest.csv" "$(DATA)/h5ad/manifest.csv"

# the manifest comes from make download; say so instead of "No rule to make target"
$(DATA)/h5ad/manifest.csv:
	@echo "make: $@ is missing: run 'make download' first (it fetches the H5AD files and writes the manifest)" >&2; exit 2

# 6. per file: cells that are normal, primary, donors, cells per term of each
#    facet; with CELLS, the cells the filter keeps (resolved with $(ONTOLOGY))
$(DATA)/obs.jsonl: $(DATA)/h5ad/manifest.csv $(call choice,CELLS) $(if $(strip $(CELLS)),$(call choice,ONTOLOGY))
	@echo "obs: cell-level summaries of the files in $< → $@$(if $(strip $(CELLS)), (cells kept: $$CELLS_ARGS))"
	@$(call atomic,$(OBS) $(if $(strip $(CELLS)),$(if $(ONTOLOGY_FILES),--ontology "$(ONTOLOGY)") $(CELLS)) "$<")
	@$(if $(wildcard $(DATA)/provenance.json),$(SNAP) choose --provenance "$(DATA)/provenance.json" "CELLS=$$CELLS_ARGS")

# the filter is recorded at once in the working provenance.json (choices.CELLS;
# none: removed), not only at the next snapshot; snapshot folders keep their own
$(DATA)/obs.jsonl: export CELLS_ARGS := $(CELLS)

# 7. the harvester CSV with normal_cell_count, primary_cell_count, donor_count
$(DATA)/all_datasets_obs.csv: $(DATA)/obs.jsonl $(DATA)/all_datasets_h5ad.csv
	@echo "obs: the harvest CSV with the summaries → $@"
	@$(call atomic,"$(BIN)/cxg-obs" --join "$(DATA)/all_datasets_h5ad.csv" "$<")

## download: harvest if needed, then fetch every H5AD of $(DATA)/all_datasets_h5ad.csv into
##   $(DATA)/h5ad/ ($(JOBS) at a time; verified, resumable: run it again after an interruption)
download: build
	@$(MAKE) stages downloads

# the files and $(DATA)/h5ad/manifest.csv; the last manifest saves re-hashing files already there.
# cxg-download prints its plan (files, bytes, free space) before any transfer and
# refuses more than MAX_DOWNLOAD bytes still to fetch unless CONFIRM=yes.
MAX_DOWNLOAD ?= 50G
CONFIRM ?=
downloads: $(DATA)/all_datasets_h5ad.csv
	@mkdir -p "$(DATA)/h5ad"
	@echo "download: the H5AD files of $< → $(DATA)/h5ad/ (manifest.csv; $(if $(filter yes,$(CONFIRM)),CONFIRM=yes: no size bound,at most $(MAX_DOWNLOAD) to fetch without CONFIRM=yes))"
	@$(DOWNLOAD) $(if $(filter yes,$(CONFIRM)),,--max-total $(MAX_DOWNLOAD)) --dir "$(DATA)/h5ad" --index "$(DATA)/datasets_index.json" $(if $(wildcard $(DATA)/h5ad/manifest.csv),--previous "$(DATA)/h5ad/manifest.csv") --failures "$(DATA)/h5ad/failures.csv" -o "$(DATA)/h5ad/manifest.csv" "$<"

# Every request of the networked stages is appended to $(REQUEST_LOG)
# (cxg-http's --log-requests, via its environment variable), for provenance.json;
# harvest starts it afresh, so an earlier failed run's requests are not listed.
$(OUTPUTS): export CXG_LOG_REQUESTS = $(REQUEST_LOG)

# After the stages: keep the raw responses and the provenance of this harvest in a new,
# never overwritten $(SNAPSHOTS)/<UTC time>/, with the per-dataset answers of
# $(DATA)/responses/ when cxg-h5ad kept any (none when nothing was fetched and the
# raw files equal the newest snapshot's: provenance.json is still rewritten).
# ONTOLOGY_FILES (set by the selection stage) and ONTOLOGY_RELEASE name the
# ontology releases a selection used.
$(DATA)/provenance.json: $(OUTPUTS)
	@echo "snapshot: this harvest's raw responses and provenance → $(SNAPSHOTS)/, $@"
	@resp=(); if [ -d "$(DATA)/responses" ]; then resp=(--responses "$(DATA)/responses"); fi; \
	$(SNAP) save --into "$(SNAPSHOTS)" --api-url "$(API_URL)" --requests "$(REQUEST_LOG)" "$${resp[@]}" \
		--tools-dir "$(BIN)" --provenance "$@" \
		$(addprefix --output-file ,$(OUTPUTS) $(wildcard $(DATA)/h5ad_failures.csv)) \
		$(addprefix --ontology-release ,$(ONTOLOGY_RELEASE)) \
		$(addprefix --ontology-file ,$(ONTOLOGY_FILES)) \
		$(if $(strip $(CELLS)),--choice "CELLS=$$CELLS_ARGS") \
		"$(DATA)/collections.json" "$(DATA)/datasets_index.json"
	@rm -f "$(REQUEST_LOG)"

# the cell filter in force (make obs) is recorded as choices.CELLS
$(DATA)/provenance.json: export CELLS_ARGS := $(CELLS)

## snapshot: keep this harvest's raw responses and provenance in $(SNAPSHOTS)/<UTC time>/
snapshot: $(DATA)/provenance.json

## report: one self-contained HTML page of the harvest in $(DATA)/ ($(DATA)/report.html: the catalogue,
##   the selection, the files, what changed, every dataset, the provenance; make runs it after a harvest)
REPORT ?= "$(BIN)/cxg-report"
report:
	@mkdir -p "$(DATA)"
	$(REPORT) "$(DATA)" -o "$(DATA)/report.html"
	@echo "report: $(DATA)/report.html"

## snapshots: list the kept harvests (date, collections, datasets, size)
snapshots:
	@$(SNAP) list "$(SNAPSHOTS)"

## diff: what changed between the two newest snapshots, into $(DATA)/changes.jsonl
# (a rebuild that fetched nothing adds no snapshot, so it leaves this diff as it was)
diff:
	@if [ "$$(ls -d "$(SNAPSHOTS)"/[0-9]*T*Z*/ 2>/dev/null | wc -l)" -lt 2 ]; then \
		echo "diff: fewer than two snapshots in $(SNAPSHOTS) so far; each 'make refresh' adds one"; \
	else $(DIFF) --newest "$(SNAPSHOTS)" -o "$(DATA)/changes.jsonl"; fi

## refresh: fetch the API again, redo every stage, keep a new snapshot and diff it
refresh: export SELECT_ARGS := $(SELECT)
refresh:
	@echo "refresh: fetching $(API_URL) anew$${SELECT_ARGS:+, with SELECT=$$SELECT_ARGS}"
	@rm -f "$(DATA)/collections.json" "$(DATA)/datasets_index.json"
	@$(MAKE) harvest
	@$(MAKE) diff

## clean: remove $(DATA)/ and $(DEMO)/ (the binaries stay; cargo clean removes them)
clean:
	@$(call rm_rf,$(DATA)); $(call rm_rf,$(DEMO))

## demo: the same harvest with no network, from $(SNAPSHOT) served by cxg-serve, into $(DEMO)/:
##   the selection (SELECT), the download of its H5AD files and their cell summaries
demo: build
	@BIN="$(BIN)" SNAPSHOT="$(SNAPSHOT)" DEMO="$(DEMO)" JOBS=$(JOBS) PRESET=$(PRESET) ONTOLOGY="$(ONTOLOGY)" scripts/demo.sh

## test: build, then run every test (unit, integration, end-to-end); after make, in release
##   against make's binaries (one build serves both), else in debug; TEST_PROFILE=debug|release
TEST_PROFILE ?=
test:
	@CARGO="$(CARGO)" TEST_PROFILE="$(TEST_PROFILE)" scripts/test.sh

## lint: rustfmt check and clippy with warnings as errors
## libs: the unit tests of the shared library crates alone (cxg-core cxg-json cxg-http cxg-catalog cxg-terms cxg-cells cxg-h5write)
libs:
	$(CARGO) test --locked $(addprefix -p ,$(LIBS))

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

## bench: every stage against jq, cxg-select and cxg-diff, cxg-obs and cxg-subset against anndata, the
##        downloads against curl, and the whole pipeline (not part of test)
bench: build
	BIN="$(BIN)" scripts/bench.sh
	BIN="$(BIN)" scripts/bench_obs.sh
	BIN="$(BIN)" scripts/bench_subset.sh
	@$(MAKE) bench-download

## bench-download: only the download measurements (1 GiB vs curl, ~200 small files at 50 ms, resume)
bench-download: build
	BIN="$(BIN)" scripts/bench-download.sh

## install: copy the tools to $(DESTDIR)$(PREFIX)/bin
install: build
	install -d "$(DESTDIR)$(PREFIX)/bin"
	install -m 755 $(addprefix $(BIN)/,$(TOOLS)) "$(DESTDIR)$(PREFIX)/bin/"

## anndata-venv: a Python venv in $(ANNDATA_VENV)/ with the pinned anndata
##         (scripts/h5ad-fixtures-requirements.txt): the subset tests compare against it
anndata-venv: $(ANNDATA_VENV)/.installed

$(ANNDATA_VENV)/.installed: scripts/h5ad-fixtures-requirements.txt
	@$(call rm_rf,$(ANNDATA_VENV))
	$(PYTHON) -m venv "$(ANNDATA_VENV)"
	"$(ANNDATA_VENV)/bin/pip" install --quiet --disable-pip-version-check -r scripts/h5ad-fixtures-requirements.txt
	touch $@

## cxgschema-venv: a Python venv in $(CXGSCHEMA_VENV)/ with CELLxGENE's validator, pinned
##         (scripts/cxgschema-requirements.txt): the subset tests validate a subset with it
cxgschema-venv: $(CXGSCHEMA_VENV)/.installed

$(CXGSCHEMA_VENV)/.installed: scripts/cxgschema-requirements.txt
	@$(call rm_rf,$(CXGSCHEMA_VENV))
	$(PYTHON) -m venv "$(CXGSCHEMA_VENV)"
	"$(CXGSCHEMA_VENV)/bin/pip" install --quiet --disable-pip-version-check -r scripts/cxgschema-requirements.txt
	touch $@

## workflow-venv: a Python venv in $(VENV)/ with the pinned Snakemake + SLURM plugin (workflow/requirements.txt)
workflow-venv: $(VENV)/.installed

$(VENV)/.installed: workflow/requirements.txt
	@$(call rm_rf,$(VENV))
	$(PYTHON) -m venv "$(VENV)"
	"$(VENV)/bin/pip" install --quiet --disable-pip-version-check -r workflow/requirements.txt
	touch $@

## workflow: build, then run workflow/Snakefile on this machine (profile local) into $(DATA)/
workflow: build workflow-venv
	@mkdir -p "$(DATA)/work"
	$(VENV)/bin/python -c 'import json, os; print(json.dumps({"select": os.environ["CXG_SELECT"], "cells": os.environ["CXG_CELLS"]}))' > "$(DATA)/work/select.yaml"
	$(SNAKEMAKE) --snakefile workflow/Snakefile --workflow-profile workflow/profiles/$(WORKFLOW_PROFILE) \
	  $(SLURM_DEFAULTS) $(SNAKEMAKE_ARGS) --configfile "$(DATA)/work/select.yaml" \
	  --config api_url="$(API_URL)" data="$(DATA)" jobs=$(JOBS) bin="$(BIN)" preset=$(PRESET) \
	  ontology="$(ONTOLOGY)" request_log="$(REQUEST_LOG)"

## workflow-slurm: the same on a SLURM cluster (profile slurm, from the login node); the jobs'
##   partition and account come from SLURM_PARTITION and SLURM_ACCOUNT (environment or command line)
WORKFLOW_PROFILE ?= local
SLURM_PARTITION ?=
SLURM_ACCOUNT ?=
# the profile's default-resources again (a command-line value replaces them all), with the site's values
SLURM_DEFAULTS = $(if $(filter slurm,$(WORKFLOW_PROFILE)),$(if $(SLURM_PARTITION)$(SLURM_ACCOUNT),--default-resources \
	mem_mb=2000 runtime=60 cpus_per_task=1 $(addprefix slurm_partition=,$(SLURM_PARTITION)) $(addprefix slurm_account=,$(SLURM_ACCOUNT))))
workflow-slurm: build workflow-venv
	@$(MAKE) workflow WORKFLOW_PROFILE=slurm

# SELECT and CELLS reach snakemake in a config file (JSON is YAML): a --config
# value loses the quote characters at its ends, and snakemake 9.27 passes
# --config values to the jobs it spawns in a way that breaks on a quote.
workflow: export CXG_SELECT = $(SELECT)
workflow: export CXG_CELLS = $(CELLS)

## help: this list
help:
	@echo "targets:"
	@sed -n 's/^## /  /p' $(MAKEFILE_LIST)
	@echo "variables (make VAR=value):"
	@echo "  API_URL=$(API_URL)"
	@echo "  DATA=$(DATA)  JOBS=$(JOBS)  PRESET=$(PRESET) (seed|full)  BIN=$(BIN)"
	@echo "  FETCH SPLIT SPLIT_FILES DATASETS TOCSV H5AD OBS DOWNLOAD REPORT: the command of each stage"
	@echo "  SELECT=\"--tissue lung ...\" (cxg-select options; empty: all)  SELECT_STAGE  ONTOLOGY=$(ONTOLOGY)  ONTOLOGY_URL  ONTOLOGY_PINS"
	@echo "  CELLS=\"--normal --primary --min-age 18 ...\" (make obs: the cells counted; empty: no filter)"
	@echo "  PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) (install)  SNAPSHOT=$(SNAPSHOT) DEMO=$(DEMO) (demo)"
	@echo "  SNAPSHOTS=$(SNAPSHOTS) REQUEST_LOG=$(REQUEST_LOG) ONTOLOGY_RELEASE=$(ONTOLOGY_RELEASE) (history)"
	@echo "  PYTHON=$(PYTHON) VENV=$(VENV) SNAKEMAKE_ARGS=$(SNAKEMAKE_ARGS) (workflow)  SLURM_PARTITION=$(SLURM_PARTITION) SLURM_ACCOUNT=$(SLURM_ACCOUNT) (workflow-slurm)"
	@echo "  MAX_DOWNLOAD=$(MAX_DOWNLOAD) CONFIRM=$(CONFIRM) (download: more than MAX_DOWNLOAD to fetch needs CONFIRM=yes)"
	@echo "SELECT, CELLS, ONTOLOGY, API_URL and PRESET are remembered in $(DATA)/choices/: later targets use them unless given again"
