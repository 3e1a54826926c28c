# The two set-up commands of the README. Both create .venv if missing and install everything.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.starpose-installed
# The CPU build of PyTorch: an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN ?= torch==2.13.0

.PHONY: demo test install bench clean faults

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_PIN)
	$(PY) -m pip install -q -e '.[dev,onnx,video]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/starpose demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(VENV)/bin/starpose bench

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

# The long fault campaign (not part of `make test`): 20 random kill points, 5000 fuzz cases per reader.
faults: $(STAMP)
	$(PY) -m pytest -q -s -p no:cacheprovider tests/test_reliability_kill.py tests/test_fuzz.py \
		--kills 20 --fuzz-cases 5000 > faults.log 2>&1; status=$$?; cat faults.log; \
		$(PY) -m tests.faults_summary faults.log; exit $$status
