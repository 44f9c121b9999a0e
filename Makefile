# Two commands on a fresh machine:
#   make run   - set up, then run the whole workflow on config/config.yaml with all cores
#   make test  - set up, then run the test suite
# Setup installs uv with pip when it is missing and syncs the locked environment,
# compiled to bytecode once: where PYTHONDONTWRITEBYTECODE is set (as on this project's
# development machines) Python otherwise compiles TensorFlow, torch and Snakemake from
# source in every job (measured here: importing keras 23 s -> 7 s, torch with
# Ultralytics 8 -> 5 s).

SHELL := /bin/bash
PYTHON ?= python3
# uv must use this machine's Python 3.11: interpreter downloads are blocked here.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := 3.11
# mkdocs-material prints a banner about its successor on every build
export NO_MKDOCS_2_WARNING := 1
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
CORES ?= all
CONFIG ?= config/config.yaml
# Targets go before --configfile, which takes every word after it as a file.
SNAKEMAKE := $(UV) run --frozen snakemake --cores $(CORES)
CONFIGS := --configfile $(CONFIG)
# make predict IMAGES=<folder or .zip>: the shipped models on your images (results/predict/).
IMAGES ?=

.PHONY: setup run test docs predict ablation report dry-run clean-results

setup: .venv/.synced

.venv/.synced: pyproject.toml uv.lock Makefile
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	$(UV) sync --frozen --compile-bytecode
	@touch $@

run: setup
	$(SNAKEMAKE) $(CONFIGS)
	$(SNAKEMAKE) $(CONFIGS) --report results/report.html
	@echo "Report: results/report.html"

# The straightening x head ablation: six classifiers scored on the same test cells.
ablation: setup
	$(SNAKEMAKE) ablation $(CONFIGS)

predict: setup
	@test -n "$(IMAGES)" || { echo "make predict needs IMAGES=<folder or .zip of images>" >&2; exit 2; }
	$(SNAKEMAKE) predict $(CONFIGS) --config 'predict={images: "$(IMAGES)"}'
	@echo "Calls: results/predict/calls.tsv"

# The documentation site (docs/, mkdocs.yml) into site/; --strict fails on a broken link.
docs: setup
	$(UV) run --frozen mkdocs build --strict --quiet

# TensorFlow and torch cannot share a process: the TensorFlow tests get a session of their own.
# The site's strict build is one of the tests (tests/test_docs.py), so it is not built twice.
test: setup
	$(UV) run --frozen pytest -m "not tensorflow"
	$(UV) run --frozen pytest -m tensorflow

dry-run: setup
	$(SNAKEMAKE) -n $(CONFIGS)

clean-results:
	rm -rf results .snakemake
