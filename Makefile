# The study, stage by stage. `make help` lists the targets.
#   make reproduce [PROFILE=cpu]   every notebook in order, for configs/$(PROFILE).yaml
#   make test                      the tests
# Each stage's target is the stage's real output file: an unchanged stage is not rerun; a
# change to its notebook, the library, the profile or the pins reruns it (and what follows).

PROFILE ?= cpu
PYTHON ?= python3
VENV ?= .venv
# PYTHON_ENV=system: use $(PYTHON) with its installed packages instead of building .venv
# (a machine that has the dependencies and no network, e.g. a lent GPU machine).
PYTHON_ENV ?= venv
ifeq ($(PYTHON_ENV),system)
PY := $(PYTHON)
STAMP := .drscaling-system-kernel
export PYTHONPATH := $(CURDIR)/lib$(if $(PYTHONPATH),:$(PYTHONPATH))
else
PY := $(VENV)/bin/python
STAMP := $(VENV)/.drscaling-installed
endif
CONFIG := configs/$(PROFILE).yaml
LIB := $(shell find lib -name '*.py' -not -path '*/__pycache__/*') pyproject.toml
export DRSCALING_DATA ?= $(CURDIR)/data
export DRSCALING_OUTPUTS ?= $(CURDIR)/outputs
OUT := $(DRSCALING_OUTPUTS)/$(PROFILE)
# The profile's processed-data folder name (its top-level `dataset:` key).
DATASET := $(shell sed -n 's/^dataset:[[:space:]]*\([A-Za-z0-9._-]*\).*/\1/p' $(CONFIG) 2>/dev/null)

# A stage whose output says "complete": false (runs failed and the profile allows missing
# runs) is run again, so that the failed runs are retried.
INCOMPLETE := $(shell grep -ls '"complete": false' $(OUT)/runs/grid.json $(OUT)/annotation.json 2>/dev/null)

.DELETE_ON_ERROR:
.PHONY: html slides browser help venv reproduce plan report bench sync-notebooks test test-slow lab clean clean-venv print-dataset FORCE
FORCE:

help: ## list the targets
	@echo "Targets (PROFILE=$(PROFILE); profiles: $(basename $(notdir $(filter-out configs/paper_reported.yaml,$(wildcard configs/*.yaml)))))"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  %-16s %s\n", $$1, $$2}'
	@$(foreach s,$(STAGE_NAMES),printf "  %-16s %s\n" "$(s)" "run that stage (and what it needs) -> $(patsubst $(CURDIR)/%,%,$(STAGE_OUTPUT_$(s)))";)

ifeq ($(PYTHON_ENV),system)
$(STAMP):
	$(PY) -c "import torch, transformers, papermill, faiss, ir_measures, bm25s, lmfit, pyarrow" || \
	  { echo "PYTHON_ENV=system: $(PY) lacks some of requirements.txt"; exit 2; }
	$(PY) -m ipykernel install --user --name drscaling --display-name "Python (drscaling)"
	@touch $@
else
# A venv whose creation was interrupted has a python but no pip: it is made again.
$(STAMP): requirements.txt pyproject.toml
	$(PY) -m pip --version >/dev/null 2>&1 || $(PYTHON) -m venv --clear $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name drscaling --display-name "Python (drscaling)"
	@touch $@
endif

venv: $(STAMP) ## create .venv with the pinned dependencies, the library and the Jupyter kernel

# stage(notebook, output file): the notebook's target is its real output; it depends on the
# notebook, the library, the profile, the environment and the stage before it.
# A stage killed after its notebook wrote the output file but before the notebook ended would look
# done: papermill's temporary copy of the notebook (.NAME.running.ipynb) is left; it reruns the stage.
define stage
$(2): notebooks/$(1).ipynb $(LIB) $(CONFIG) $(STAMP) $(LAST_STAGE) $(if $(filter $(2),$(INCOMPLETE)),FORCE) \
    $(if $(wildcard $(OUT)/notebooks/.$(1).running.ipynb),FORCE)
	@test -n "$(DATASET)" || { echo "$(CONFIG) is missing or names no dataset"; exit 2; }
	$$(PY) -m drscaling run-notebook $(1) --profile $(PROFILE)
	@touch $$@
.PHONY: $(1)
$(1): $(2)
STAGE_NAMES += $(1)
STAGE_OUTPUT_$(1) := $(2)
LAST_STAGE := $(2)
endef

# The stages, in order: one line each.
$(eval $(call stage,01_prepare_data,$(DRSCALING_DATA)/processed/$(DATASET)/manifest.json))
$(eval $(call stage,02_train_grid,$(OUT)/runs/grid.json))
$(eval $(call stage,03_evaluate,$(OUT)/results.csv))
$(eval $(call stage,04_annotation_quality,$(OUT)/annotation.json))
$(eval $(call stage,05_fit_scaling_laws,$(OUT)/fits.json))
$(eval $(call stage,06_budget_allocation,$(OUT)/budget.json))

reproduce: $(LAST_STAGE) ## run the whole study for PROFILE (default cpu)
	@if grep -qs '"complete": false' $(OUT)/runs/grid.json $(OUT)/annotation.json; then \
	  echo "study done for profile $(PROFILE) WITHOUT some failed runs (allow_missing_runs: true); the next make reproduce retries them"; \
	else echo "study complete for profile $(PROFILE): executed notebooks in $(OUT)/notebooks"; fi

plan: $(STAMP) ## the profile's runs, which are done, what they need and whether it is here; this machine's wall time for the pending runs (a few steps timed here, cached) and an estimate of GPU time
	$(PY) -m drscaling plan --profile $(PROFILE)

report: $(LAST_STAGE) ## regenerate the README results section and reports/<profile>/ figures from the outputs
	$(PY) scripts/report.py --profile $(PROFILE)

html: $(OUT)/report.html ## the executed study of PROFILE as one self-contained page -> outputs/<profile>/report.html

slides: $(OUT)/slides.html ## a reveal.js deck of PROFILE's figures, key tables and take-aways (works offline) -> outputs/<profile>/slides.html

$(OUT)/report.html $(OUT)/slides.html: $(OUT)/%.html: $(LAST_STAGE) $(LIB) $(wildcard lib/drscaling/templates/*/*)
	$(PY) -m drscaling $(if $(filter report,$*),html,slides) --profile $(PROFILE)

browser: ## install headless Chromium (Debian's package, as root) for the browser tests of html and slides
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
	@chromium --version

bench: $(STAMP) $(STAGE_OUTPUT_01_prepare_data) ## training throughput: ours vs sentence-transformers -> outputs/bench/bench.json
	$(PY) -m pip install --quiet -r requirements-bench.txt
	$(PY) scripts/bench_train.py --profile $(PROFILE)

sync-notebooks: $(STAMP) ## bring each notebook and its paired script (notebooks/NN_name.py, percent format) in step: the newer wins
	$(PY) -m jupytext --sync notebooks/*.ipynb

test: $(STAMP) ## check the code with ruff (pyproject.toml's rules), then run the tests
	$(PY) -m ruff check
	$(PY) -m pytest -q --durations=8

test-slow: $(STAMP) ## run the slow tests: the smoke study killed anywhere and restarted (scripts/kill_test.py); the Chinese study on smoke-zh
	$(PY) -m pytest -q -m slow

# Extra JupyterLab options, e.g. LAB_ARGS="--no-browser --port=8888 --ip=0.0.0.0". As root (a
# container, a cloud notebook) JupyterLab refuses to start without --allow-root: given only then.
LAB_ARGS ?=
lab: $(STAMP) ## open JupyterLab on the notebooks (kernel "Python (drscaling)"); LAB_ARGS: more options
	$(PY) -m jupyterlab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

clean: ## delete PROFILE's outputs and processed data (raw data and .venv stay)
	rm -rf $(OUT) $(if $(DATASET),$(DRSCALING_DATA)/processed/$(DATASET))

clean-venv: ## delete the virtual environment
	rm -rf $(VENV)

print-dataset: ## print PROFILE's processed-data folder name
	@echo $(DATASET)
