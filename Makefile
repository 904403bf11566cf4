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

.PHONY: install system-deps demo test lint pipeline bench compare compare-policy scaling clean help

help:
	@echo "make demo    install everything; the whole chain as a Prefect flow: MT10 (DVC-versioned) → traces → validation →"
	@echo "             μ_0 + baselines (DeepSpeed) → evaluation → MLflow registry (challenger → champion)"
	@echo "make test    install everything and run the test suite (ruff + pytest, import contracts included)"
	@echo "make bench   run the benchmarks under benchmarks/"
	@echo "make pipeline      the DVC pipeline (dvc.yaml) at params.yaml: dvc repro, recorded in dvc.lock"
	@echo "make compare       μ_0 vs its baselines at the small preset on MT10 (hours: COMPARE_MINUTES per model)"
	@echo "make scaling       μ_0 against the number of pretraining episodes, 37 trainable tasks (hours)"
	@echo "make compare-policy  trace-conditioned vs action-pretrained vs scratch policies in Meta-World (after compare)"

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
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,dask]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	PREFECT_HOME=$(CURDIR)/.prefect $(BIN)/python -m flows.chain $(PRESET)
	$(BIN)/mu0 extract --preset $(PRESET) --tracker lk --out artifacts/traces-extracted \
	  --quarantine artifacts/quarantine/traces-extracted
	$(BIN)/mu0 extract-eval --traces artifacts/traces-extracted
	@echo
	@echo "raw data:  data/raw (one folder per episode; layout in docs/architecture.md), versioned by data.dvc"
	@echo "traces:    artifacts/traces (simulator-exact: --tracker auto; samples/, captions.json, tracks.npz per episode)"
	@echo "           artifacts/traces-extracted (TraceExtract's own tracker, scored by extract-eval)"
	@echo "checks:    reports/validation.md (Great Expectations gate; baseline for drift in artifacts/traces/_validation)"
	@echo "accuracy:  reports/extract_eval.md, pictures in reports/extract_eval/"
	@echo "models:    artifacts/chain/<flow run>/{mu0,track-transformer,tokenized-vlm}/model, registered in MLflow (mlflow.db)"
	@echo "metrics:   reports/metrics.md (μ_0 vs learned, kinematic baselines and the champion), reports/trace_overlays/"
	@echo "policies:  artifacts/chain/<flow run>/policy-{trace,scratch}/model; closed loop: reports/policy_metrics.md, reports/rollout_videos/"
	@echo "look:      $(BIN)/mu0 inspect data/raw   ·   $(BIN)/mu0 inspect artifacts/traces"
	@echo "record:    git add data.dvc && git commit -m 'data: new raw dataset'"
	@$(BIN)/python -c "import json; r = json.load(open('reports/registration.json')); print(f\"registered: {r['model']} version {r['version']} as '{r['alias']}' ({r['metric']} {r['score']:.4f}); models:/{r['model']}@champion loads the champion\")"
	@$(BIN)/python -c "import json; r = json.load(open('reports/policy_registration.json')); print(f\"registered: {r['model']} version {r['version']} as '{r['alias']}' (mean success {100 * r['mean_success']:.1f}%); models:/{r['model']}@champion loads the champion\")"

lint: install
	$(BIN)/ruff check .

test: install lint
	$(BIN)/python -m pytest

# The DVC pipeline (dvc.yaml) at params.yaml's settings: `dvc repro` runs what changed and records it in dvc.lock
# (commit it: git add dvc.lock data.dvc). data/raw comes from the remote (`mu0 data pull`) or, when absent there,
# from the simulator at params.yaml's preset.
pipeline: install
	test -d data/raw || $(BIN)/mu0 data pull || $(BIN)/mu0 ingest metaworld --preset \
	  $$($(BIN)/python -c "import yaml; print(yaml.safe_load(open('params.yaml'))['preset'])")
	PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dvc repro

# μ_0 against its baselines at the `small` preset on MT10 (window-close held out): COMPARE_ROLLOUTS scripted
# rollouts per task, each seen by both cameras (20: at 10 the test split held 6 seen-task rollouts, too few to
# separate intervals), trained on simulator-exact traces (--tracker auto), the same steps and wall-clock budget
# for every model; μ_0 once more on TraceExtract's own traces of the same episodes; all scored against the
# simulator's truth of the test split.
# Writes reports/compare/metrics{,_extracted}.{json,md}. Several hours on 2 cores.
COMPARE ?= artifacts/compare
# the comparisons' MLflow runs (loss and validation curves, success vs steps) in experiments of their own
compare compare-policy: export MLFLOW_EXPERIMENT_NAME = mu0-compare
scaling: export MLFLOW_EXPERIMENT_NAME = mu0-scaling
COMPARE_ROLLOUTS ?= 20
# extra options of both comparisons' ingestions (pretraining rollouts and demonstrations), e.g. the goal shown:
# make compare compare-policy COMPARE=artifacts/compare-goal COMPARE_INGEST=--goal-marker \
#   COMPARE_REPORTS=reports/compare-goal
COMPARE_INGEST ?=
COMPARE_REPORTS ?= reports/compare
# COMPARE_STEPS: μ_0 runs 12000 in 42 of its 45 minutes; from 6000 its val uv ADE went 0.0479 → 0.0461 (2026-12-05).
# The tokenized VLM is 4× slower per step: 45 minutes hold about 2900 of its steps, so its schedule is sized to
# them (a cosine cut at a quarter would stop at 87% of the peak learning rate).
COMPARE_STEPS ?= 12000
COMPARE_STEPS_TOKENIZED_VLM ?= 2800
COMPARE_MINUTES ?= 45
COMPARE_OPTS = --preset small --validation-report /nonexistent --data.holdout-tasks window-close-v3 \
	--train.max-minutes $(COMPARE_MINUTES) --train.checkpoint-every 1000 --train.num-workers 1
COMPARE_EVAL = --preset small --traces $(COMPARE)/traces --raw $(COMPARE)/raw --holdout-tasks window-close-v3 \
	--samples 5 --max-queries 600
compare: install
	$(BIN)/mu0 ingest metaworld --preset small --episodes-per-task $(COMPARE_ROLLOUTS) --out $(COMPARE)/raw \
	  --quarantine $(COMPARE)/quarantine --no-version $(COMPARE_INGEST)
	$(BIN)/mu0 extract --preset small --in $(COMPARE)/raw --out $(COMPARE)/traces --quarantine $(COMPARE)/q
	$(BIN)/mu0 extract --preset small --tracker lk --in $(COMPARE)/raw --out $(COMPARE)/traces-extracted \
	  --quarantine $(COMPARE)/q-extracted
	for kind in mu0 track-transformer; do $(BIN)/mu0 pretrain --kind $$kind --traces $(COMPARE)/traces \
	  --out $(COMPARE)/$$kind $(COMPARE_OPTS) --train.steps $(COMPARE_STEPS) || exit 1; done
	$(BIN)/mu0 pretrain --kind tokenized-vlm --traces $(COMPARE)/traces --out $(COMPARE)/tokenized-vlm \
	  $(COMPARE_OPTS) --train.steps $(COMPARE_STEPS_TOKENIZED_VLM)
	$(BIN)/mu0 pretrain --traces $(COMPARE)/traces-extracted --out $(COMPARE)/mu0-extracted $(COMPARE_OPTS) \
	  --train.steps $(COMPARE_STEPS)
	mkdir -p $(COMPARE_REPORTS)
	$(BIN)/mu0 evaluate traces $(COMPARE_EVAL) --model $(COMPARE)/mu0/model \
	  --baselines $(COMPARE)/track-transformer/model $(COMPARE)/tokenized-vlm/model \
	  --report $(COMPARE_REPORTS)/metrics.json --overlays $(COMPARE_REPORTS)/overlays --no-mlflow
	$(BIN)/mu0 evaluate traces $(COMPARE_EVAL) --model $(COMPARE)/mu0-extracted/model --baselines \
	  --report $(COMPARE_REPORTS)/metrics_extracted.json --overlays $(COMPARE_REPORTS)/overlays_extracted --no-mlflow

# μ_0's data-scaling curve: scripted experts of the 37 trainable tasks (MT10 + 27, DESIGN.md §8; MT50's other 13
# are reserved), 10 rollouts per task, window-close held out, simulator-
# exact traces, the `tiny` μ_0 trained for SCALING_STEPS on nested subsets of SCALING_EPISODES training
# episodes (0 = all), every one scored on the same test split. Writes reports/scaling/metrics.{json,md}.
# About 20 min per 10000 steps on 2 cores, plus 25 min of ingestion and extraction.
SCALING ?= artifacts/scaling
SCALING_STEPS ?= 10000
SCALING_EPISODES ?= 75 150 300 0
SCALING_OPTS = --preset tiny --validation-report /nonexistent --data.holdout-tasks window-close-v3 \
	--train.steps $(SCALING_STEPS) --train.checkpoint-every 0
SCALING_EVAL = --preset tiny --traces $(SCALING)/traces --raw $(SCALING)/raw --baselines \
	--holdout-tasks window-close-v3 --samples 5 --max-queries 400 --protocols recipe dense --no-mlflow
scaling: install
	$(BIN)/mu0 ingest metaworld --preset small --tasks TRAINABLE --out $(SCALING)/raw --quarantine $(SCALING)/quarantine \
	  --no-version
	$(BIN)/mu0 extract --preset tiny --in $(SCALING)/raw --out $(SCALING)/traces --quarantine $(SCALING)/q
	mkdir -p reports/scaling
	for n in $(SCALING_EPISODES); do \
	  $(BIN)/mu0 pretrain --traces $(SCALING)/traces --out $(SCALING)/mu0-$$n --data.max-train-episodes $$n \
	    $(SCALING_OPTS) || exit 1; \
	  $(BIN)/mu0 evaluate traces $(SCALING_EVAL) --model $(SCALING)/mu0-$$n/model \
	    --report reports/scaling/metrics_$$n.json --overlays reports/scaling/overlays_$$n || exit 1; done
	$(BIN)/python -m mu0.evaluation.scaling_report reports/scaling \
	  $(foreach n,$(SCALING_EPISODES),reports/scaling/metrics_$(n).json)

# The action expert on the frozen small μ_0 against scratch and action-pretrained policies: 10 fresh
# demonstrations per MT10 task (seeds 1000+), action pretraining on the pretraining rollouts without the held-out
# task, the same steps and batch for every fine-tuning, success vs steps on 3 validation rollouts per task
# (seeds 50000+) every 1000 steps, then 20 rollouts per task on seeds 100000+. Variants of the trace policy: a
# trainable backbone copy; μ_0's waypoints as tokens after one Euler step, or after all 4 (its point estimate);
# the trainable copy with the full waypoints. μ_0 itself stays frozen in every one. The `-wrist` policies also
# see the wrist camera as 8×8 tokens (the recipe's), read through μ_0's frozen scene encoder in the trace policy.
# `trace-hand-full` also queries μ_0 on a 3×3 lattice around the hand's pixel (proprio through the camera's
# calibration): the hand's forecast path as tokens of their own.
# POLICY_STEPS: at the preset's 2000 steps scratch was still improving (validation success 0.17, 0.17, 0.33,
# 0.47 at 500..2000 steps, 2026-12-03); at 6000 with the goal shown the trace policy still was (0.20, 0.57, 0.63 at
# 2000..6000; closed loop 55.5% → 62.0% at 9000, scratch 48.5% → 51.0%, 2026-12-07), so every policy gets 9000.
POLICY_STEPS ?= 9000
POLICY_OPTS = --preset small --validation-report /nonexistent --world-model $(COMPARE)/mu0/model \
	--val-episodes-per-task 3 --finetune.steps $(POLICY_STEPS) --finetune.val-every 1000
WRIST = --policy.wrist-tokens 8
PRETRAIN_TASKS = reach-v3 push-v3 pick-place-v3 door-open-v3 drawer-open-v3 drawer-close-v3 \
	button-press-topdown-v3 peg-insert-side-v3 window-open-v3
compare-policy: install
	$(BIN)/mu0 ingest metaworld --preset small --seed 1000 --cameras front gripperPOV --out $(COMPARE)/demos \
	  --quarantine $(COMPARE)/demos-quarantine --no-version $(COMPARE_INGEST)
	$(BIN)/mu0 finetune --mode scratch --episodes $(COMPARE)/raw --policy-data.demos-per-task 0 \
	  --policy-data.tasks $(PRETRAIN_TASKS) --out $(COMPARE)/policy-action-pretrain $(POLICY_OPTS)
	$(BIN)/mu0 finetune --mode action-pretrained --init-from $(COMPARE)/policy-action-pretrain/model \
	  --episodes $(COMPARE)/demos --out $(COMPARE)/policy-action-pretrained $(POLICY_OPTS)
	for mode in trace scratch; do $(BIN)/mu0 finetune --mode $$mode --episodes $(COMPARE)/demos \
	  --out $(COMPARE)/policy-$$mode $(POLICY_OPTS) || exit 1; done
	$(BIN)/mu0 finetune --mode trace --policy.train-backbone --episodes $(COMPARE)/demos \
	  --out $(COMPARE)/policy-trace-tuned $(POLICY_OPTS)
	$(BIN)/mu0 finetune --mode trace --policy.trace-tokens waypoints --episodes $(COMPARE)/demos \
	  --out $(COMPARE)/policy-trace-waypoints $(POLICY_OPTS)
	$(BIN)/mu0 finetune --mode trace --policy.trace-tokens waypoints --policy.trace-steps 4 \
	  --episodes $(COMPARE)/demos --out $(COMPARE)/policy-trace-waypoints-full $(POLICY_OPTS)
	$(BIN)/mu0 finetune --mode trace --policy.train-backbone --policy.trace-tokens waypoints --policy.trace-steps 4 \
	  --episodes $(COMPARE)/demos --out $(COMPARE)/policy-trace-tuned-waypoints $(POLICY_OPTS)
	$(BIN)/mu0 finetune --mode trace --policy.trace-tokens waypoints --policy.trace-steps 4 --policy.trace-queries moving \
	  --episodes $(COMPARE)/demos --out $(COMPARE)/policy-trace-moving-full $(POLICY_OPTS)
	$(BIN)/mu0 finetune --mode trace --policy.trace-tokens waypoints --policy.trace-steps 4 --policy.hand-queries 3 \
	  --episodes $(COMPARE)/demos --out $(COMPARE)/policy-trace-hand-full $(POLICY_OPTS)
	$(BIN)/mu0 finetune --mode trace --policy.trace-tokens waypoints --policy.trace-steps 4 \
	  --episodes $(COMPARE)/demos --out $(COMPARE)/policy-trace-waypoints-full-wrist $(POLICY_OPTS) $(WRIST)
	$(BIN)/mu0 finetune --mode scratch --episodes $(COMPARE)/raw --policy-data.demos-per-task 0 \
	  --policy-data.tasks $(PRETRAIN_TASKS) --out $(COMPARE)/policy-action-pretrain-wrist $(POLICY_OPTS) $(WRIST)
	$(BIN)/mu0 finetune --mode action-pretrained --init-from $(COMPARE)/policy-action-pretrain-wrist/model \
	  --episodes $(COMPARE)/demos --out $(COMPARE)/policy-action-pretrained-wrist $(POLICY_OPTS) $(WRIST)
	$(BIN)/mu0 finetune --mode scratch --episodes $(COMPARE)/demos --out $(COMPARE)/policy-scratch-wrist \
	  $(POLICY_OPTS) $(WRIST)
	$(BIN)/mu0 finetune --mode trace --policy.train-backbone --policy.trace-tokens waypoints --policy.trace-steps 4 \
	  --episodes $(COMPARE)/demos --out $(COMPARE)/policy-trace-tuned-waypoints-wrist $(POLICY_OPTS) $(WRIST)
	$(BIN)/mu0 evaluate policy --preset small --report $(COMPARE_REPORTS)/policy_metrics.json \
	  --rollout.episodes-per-task 20 \
	  --videos $(COMPARE)/rollout_videos --policies trace=$(COMPARE)/policy-trace/model \
	  trace-tuned=$(COMPARE)/policy-trace-tuned/model trace-waypoints=$(COMPARE)/policy-trace-waypoints/model \
	  trace-waypoints-full=$(COMPARE)/policy-trace-waypoints-full/model \
	  trace-tuned-waypoints=$(COMPARE)/policy-trace-tuned-waypoints/model \
	  trace-moving-full=$(COMPARE)/policy-trace-moving-full/model \
	  trace-hand-full=$(COMPARE)/policy-trace-hand-full/model \
	  trace-waypoints-full-wrist=$(COMPARE)/policy-trace-waypoints-full-wrist/model \
	  trace-tuned-waypoints-wrist=$(COMPARE)/policy-trace-tuned-waypoints-wrist/model \
	  scratch-wrist=$(COMPARE)/policy-scratch-wrist/model \
	  action-pretrained-wrist=$(COMPARE)/policy-action-pretrained-wrist/model \
	  scratch=$(COMPARE)/policy-scratch/model \
	  action-pretrained=$(COMPARE)/policy-action-pretrained/model

bench: install
	$(BIN)/python benchmarks/bench_metaworld.py
	$(BIN)/python benchmarks/bench_episode_read.py
	$(BIN)/python benchmarks/bench_trace_extract.py
	$(BIN)/python benchmarks/bench_policy_latency.py
	$(BIN)/python benchmarks/bench_validation.py
	$(BIN)/python benchmarks/bench_trace_data.py
	$(BIN)/python benchmarks/bench_pretrain.py
	$(BIN)/python benchmarks/bench_chain.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
