# make demo   set up, then run the main job on its built-in default
# make test   set up, then run the test suite
# CPU machines get torch 2.13.0 (CPU) through constraints/cpu.txt; on a GPU machine run
# `make setup CONSTRAINTS=` (or plain `pip install -e ".[dev,robosuite]"`) to let pip pick a CUDA build.

PYTHON ?= python3
VENV ?= .venv
CONSTRAINTS ?= constraints/cpu.txt
# robosuite (Lift, PickPlaceCan, NutAssemblySquare) pins mujoco < 3.10 and numpy < 2; `make setup EXTRAS=dev` leaves it out.
EXTRAS ?= dev,robosuite
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

.PHONY: setup demo test clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS) Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(CONSTRAINTS),PIP_CONSTRAINT=$(CONSTRAINTS)) $(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	# robomimic 0.3.0 hard-requires torchvision; only its dataset reader is used (by a compatibility test).
	$(BIN)/python -m pip install --quiet --no-deps robomimic==0.3.0
	touch $(STAMP)

demo: setup
	$(BIN)/python scripts/train.py

test: setup
	WANDB_MODE=disabled $(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) outputs data
