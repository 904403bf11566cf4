# Everything installs from nothing: system packages for offscreen MuJoCo, a venv in .venv, the pinned
# package set (pyproject.toml + constraints.txt). `make demo` and `make test` are the README's commands.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Debian packages MuJoCo needs to render offscreen with EGL (software rendering on CPU-only machines).
EGL_PACKAGES := libegl1 libegl-mesa0 libgl1-mesa-dri libgl1
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl
export DVC_NO_ANALYTICS := 1
export MLFLOW_DISABLE_TELEMETRY := true
PRESET ?= tiny

.PHONY: install system-deps demo test lint bench clean help

help:
	@echo "make demo    install everything; the whole chain as a Prefect flow: MT10 (DVC-versioned) → traces → validation →"
	@echo "             μ_0 + baselines (DeepSpeed) → evaluation → MLflow registry (challenger → champion)"
	@echo "make test    install everything and run the test suite (ruff + pytest, import contracts included)"
	@echo "make bench   run the benchmarks under benchmarks/"

system-deps:
	@if dpkg-query -W -f='$${Status}\n' $(EGL_PACKAGES) 2>/dev/null | grep -qv 'install ok installed' \
	    || [ $$(dpkg-query -W -f='$${Status}\n' $(EGL_PACKAGES) 2>/dev/null | wc -l) -ne 4 ]; then \
	  echo "installing $(EGL_PACKAGES)"; \
	  SUDO=$$([ $$(id -u) -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends $(EGL_PACKAGES); \
	fi

$(STAMP): pyproject.toml constraints.txt
	@$(MAKE) --no-print-directory system-deps
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	PREFECT_HOME=$(CURDIR)/.prefect $(BIN)/python -m flows.chain $(PRESET)
	$(BIN)/mu0 extract-eval
	@echo
	@echo "raw data:  data/raw (one folder per episode; layout in DESIGN.md §4), versioned by data.dvc"
	@echo "traces:    artifacts/traces (samples/, captions.json, tracks.npz per episode)"
	@echo "checks:    reports/validation.md (Great Expectations gate; baseline for drift in artifacts/traces/_validation)"
	@echo "accuracy:  reports/extract_eval.md, pictures in reports/extract_eval/"
	@echo "models:    artifacts/chain/<flow run>/{mu0,track-transformer,tokenized-vlm}/model, registered in MLflow (mlflow.db)"
	@echo "metrics:   reports/metrics.md (μ_0 vs learned, kinematic baselines and the champion), reports/trace_overlays/"
	@echo "look:      $(BIN)/mu0 inspect data/raw   ·   $(BIN)/mu0 inspect artifacts/traces"
	@echo "record:    git add data.dvc && git commit -m 'data: new raw dataset'"

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python benchmarks/bench_metaworld.py
	$(BIN)/python benchmarks/bench_episode_read.py
	$(BIN)/python benchmarks/bench_trace_extract.py
	$(BIN)/python benchmarks/bench_validation.py
	$(BIN)/python benchmarks/bench_trace_data.py
	$(BIN)/python benchmarks/bench_pretrain.py
	$(BIN)/python benchmarks/bench_chain.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
