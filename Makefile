# Sora Lab — the two commands are `make demo` and `make test`.
# Both bootstrap .venv first; re-running skips the install when nothing changed.

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
# Where torch comes from when not from PyPI, e.g. https://download.pytorch.org/whl/cu128 for a CUDA build.
TORCH_INDEX ?=
# Pins of every other package to the versions the suite last passed with; CONSTRAINTS= lifts them.
CONSTRAINTS ?= constraints.txt
SORA_LAB_HOME ?= data/lab
export SORA_LAB_HOME

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# What the stamp records of an install; $(1) is the constraints file it used.
install_key = $(TORCH_SPEC) index=$(TORCH_INDEX) constraints=$(1)
INSTALL_KEY := $(call install_key,$(CONSTRAINTS))

.PHONY: demo test bench lint lock venv cxx browser wordnet jre test-spark clean-lab stop

# The stamp depends on every file that decides what gets installed, and records the torch source and constraints.
# torch goes in first, alone (its index may hold nothing else); the project install then keeps that build.
$(STAMP): pyproject.toml Makefile $(CONSTRAINTS) | cxx
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e ".[dev]" "$(TORCH_SPEC)" $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
	@echo "$(INSTALL_KEY)" > $(STAMP)

venv: $(STAMP)
	@grep -qxF '$(INSTALL_KEY)' $(STAMP) || { rm -f $(STAMP); $(MAKE) --no-print-directory $(STAMP); }

# Write constraints.txt from what .venv has now, e.g. after `make test CONSTRAINTS=` passed with newer releases.
# No `venv` prerequisite: that would first reinstall the old pins. The stamp then says .venv matches the file.
lock:
	@test -x $(BIN)/python || { echo "no $(VENV) yet: run make test first"; exit 1; }
	@{ sed -n '/^#/p' constraints.txt; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^torch=='; } > constraints.txt.tmp
	@mv constraints.txt.tmp constraints.txt
	@echo "$(call install_key,constraints.txt)" > $(STAMP)
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pins"

# Debian packages the tests need, installed once (as root, or through sudo).
apt_install = if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; \
  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null; fi

# Debian's chromium for the browser tests (Playwright's own download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { echo "installing Debian chromium for browser tests"; $(call apt_install,chromium); }

# A C++ compiler and Python's headers: pdqhash (the PDQ fingerprint, sora_lab/provenance) ships as source only.
cxx:
	@command -v g++ >/dev/null 2>&1 || { echo "installing Debian g++ to build pdqhash"; $(call apt_install,g++); }
	@$(PYTHON) -c "import os, sysconfig; raise SystemExit(not os.path.exists(sysconfig.get_paths()['include'] + '/Python.h'))" \
	  || { echo "installing Debian python3-dev to build pdqhash"; $(call apt_install,python3-dev); }

# Debian's WordNet 3.0, from which sora_lab/generate/tiny/motion_verbs.json is rebuilt (a test checks the shipped table).
wordnet:
	@test -f /usr/share/wordnet/cntlist.rev || { echo "installing Debian wordnet-base"; $(call apt_install,wordnet-base); }

# Debian's Java runtime, for Spark only (`make test-spark`; `make test` does not need it).
jre:
	@command -v java >/dev/null 2>&1 || { echo "installing Debian default-jre-headless for Spark"; $(call apt_install,default-jre-headless); }

# Optional, not part of `make test`: the [spark] extra and a JRE, then Spark SQL reads a small
# `sora-lab metrics export` and must compute the lab's DAU series (tests/test_metrics_spark.py).
test-spark: venv jre
	$(BIN)/python -m pip install --quiet -e ".[dev,spark]" "$(TORCH_SPEC)" $(if $(CONSTRAINTS),-c $(CONSTRAINTS))
	SORA_LAB_SPARK=1 $(BIN)/python -m pytest -p no:cacheprovider tests/test_metrics_spark.py $(PYTEST_ARGS)

demo: venv
	@$(BIN)/python -m sora_lab.apps.demo_runner

test: venv browser wordnet
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv browser
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: venv
	$(BIN)/ruff check sora_lab tests benchmarks dashboards

stop:
	@$(BIN)/python -m sora_lab.apps.demo_runner --stop

clean-lab:
	rm -rf $(SORA_LAB_HOME)
