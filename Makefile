# normalcy: every target builds its own virtual environment from the repo's files.
#
# `make test`, `make demo`, `make lint` ... install from requirements.lock: exact versions
# and sha256 hashes of everything in `.[all,dev]` (plus pip and the build backend) for
# CPython 3.11 on Linux x86_64, torch being the local CPU build (torch==2.13.0+cpu, found
# through --find-links $(TORCH_WHEELS)). pyproject.toml keeps loose ranges for users;
# `make lock` re-resolves them to the newest releases and rewrites the lock;
# `make test-latest` tests against the newest releases without touching the lock.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# the latest-releases environment for `make test-latest`
VENV_LATEST := .venv-latest
# uv only resolves the lock (`make lock`); installs use pip
UV_VERSION := 0.13.9
VENV_LOCK := .venv-lock
# where the CPU build of torch lies (pip finds it there through its own configuration too)
TORCH_WHEELS ?= /opt/wheels
PYTEST_ARGS := -q -n 2 --dist loadfile
# locked besides pyproject's dependencies: pyproject's [build-system] requires, plus
# editables, which hatchling asks for to build an editable install
BUILD_REQUIRES := 'hatchling>=1.21' editables

.PHONY: demo test test-latest lint lock bench clean docs

# A fresh environment whenever the lock (or what it was made from) changes, so nothing
# outside the lock lingers. Hash-checking mode refuses any package that is not in the lock
# with its hash. The project goes in last, from no index and without build isolation (its
# build backend, hatchling, is in the lock too): that fails, instead of fetching anything,
# when pyproject.toml asks for a package or version the lock lacks.
$(STAMP): $(LOCK) pyproject.toml constraints.txt
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -c constraints.txt -r $(LOCK)
	$(BIN)/pip install --quiet --no-index --no-build-isolation -c constraints.txt -e ".[all,dev]" \
		|| { echo "$(LOCK) does not satisfy pyproject.toml: run make lock" >&2; exit 1; }
	$(BIN)/pip check
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/normalcy demo --out demo-report

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The newest releases that pyproject.toml allows (torch stays pinned by constraints.txt),
# upgraded in place in $(VENV_LATEST) on every run; prints what it tested against.
test-latest:
	test -x $(VENV_LATEST)/bin/python || $(PY) -m venv $(VENV_LATEST)
	$(VENV_LATEST)/bin/pip install --quiet --upgrade pip
	$(VENV_LATEST)/bin/pip install --quiet --upgrade --upgrade-strategy eager \
		-c constraints.txt -e ".[all,dev]"
	$(VENV_LATEST)/bin/pip check
	$(VENV_LATEST)/bin/pip freeze --exclude-editable
	$(VENV_LATEST)/bin/python -m pytest $(PYTEST_ARGS)

# Regenerate requirements.lock from pyproject.toml (newest releases in its ranges), then
# review `git diff requirements.lock`, run `make test` and commit. uv does not read pip's
# configuration: --find-links points it at the local CPU build of torch, so the lock holds
# torch==2.13.0+cpu and none of the CUDA (nvidia-*, triton) packages of PyPI's torch.
lock:
	test -x $(VENV_LOCK)/bin/uv || { $(PY) -m venv $(VENV_LOCK) && \
		$(VENV_LOCK)/bin/pip install --quiet uv==$(UV_VERSION); }
	printf '%s\n' $(BUILD_REQUIRES) pip | $(VENV_LOCK)/bin/uv pip compile \
		pyproject.toml - --extra all --extra dev --constraints constraints.txt \
		--python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--find-links $(TORCH_WHEELS) --emit-find-links --generate-hashes --upgrade \
		--custom-compile-command "make lock" --output-file $(LOCK)

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

bench: $(STAMP)
	$(BIN)/normalcy bench metrics

docs: $(STAMP)
	$(BIN)/normalcy docs --out docs/detectors.md

clean:
	rm -rf $(VENV) $(VENV_LATEST) $(VENV_LOCK) demo-report .pytest_cache
