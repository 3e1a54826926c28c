# The two set-up commands of the README. Both create .venv if missing and install everything.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
CORE_STAMP := $(VENV)/.starpose-core-installed
STAMP := $(VENV)/.starpose-installed
# The CPU build of PyTorch: an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0
# Blender as a Python module, for the test that opens exported BVH files in Blender. It pins
# numpy < 2, so it lives in its own environment (the same pin as the `blender` extra).
BLENDER_VENV ?= .venv-blender
BPY_PIN ?= bpy==4.5.4
BLENDER_STAMP := $(BLENDER_VENV)/.bpy-installed

.PHONY: demo test install bench clean faults

$(PY):
	$(PYTHON) -m venv $(VENV)

# starpose with what `starpose demo` needs (about a minute); the extras come on top of it.
$(CORE_STAMP): $(PY) pyproject.toml setup.py src/starpose/models/kernels/fused_cpu.cpp
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e .
	touch $(CORE_STAMP)

# Everything: the extras the tests use (pytest, ONNX Runtime, the video extra), in one install
# (one build of the C++ kernels, ~45 s); it counts as the core install too.
$(STAMP): $(PY) pyproject.toml setup.py src/starpose/models/kernels/fused_cpu.cpp
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e '.[dev,onnx,video]'
	touch $(CORE_STAMP) $(STAMP)

$(BLENDER_STAMP): $(PY)
	$(PY) -m venv $(BLENDER_VENV)
	$(BLENDER_VENV)/bin/python -m pip install -q '$(BPY_PIN)'
	touch $(BLENDER_STAMP)

install: $(STAMP)

demo: $(CORE_STAMP)
	$(VENV)/bin/starpose demo

test: $(STAMP) $(BLENDER_STAMP)
	STARPOSE_BLENDER_PYTHON=$(BLENDER_VENV)/bin/python $(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(VENV)/bin/starpose bench

clean:
	rm -rf $(VENV) $(BLENDER_VENV) build *.egg-info src/*.egg-info src/starpose/models/kernels/_fused_cpu*.so

# The long fault campaign (not part of `make test`): 20 random kill points, 5000 fuzz cases per reader.
faults: $(STAMP)
	$(PY) -m pytest -q -s -p no:cacheprovider tests/test_reliability_kill.py tests/test_fuzz.py \
		--kills 20 --fuzz-cases 5000 > faults.log 2>&1; status=$$?; cat faults.log; \
		$(PY) -m tests.faults_summary faults.log; exit $$status
