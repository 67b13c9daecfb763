# Sora Lab — the two commands are `make demo` and `make test`.
# Both bootstrap .venv first; re-running skips the install when nothing changed.

PYTHON      ?= python3
VENV        ?= .venv
TORCH_SPEC  ?= torch==2.13.0
SORA_LAB_HOME ?= data/lab
export SORA_LAB_HOME

BIN   := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test bench lint venv browser clean-lab stop

# The stamp depends on every file that decides what gets installed, and on the torch spec.
$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[dev]" "$(TORCH_SPEC)"
	@echo "$(TORCH_SPEC)" > $(STAMP)

venv: $(STAMP)
	@grep -qxF '$(TORCH_SPEC)' $(STAMP) || { rm -f $(STAMP); $(MAKE) --no-print-directory $(STAMP); }

# Debian's chromium for the browser tests (Playwright's own download does not work offline).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium for browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

demo: venv
	@$(BIN)/python -m sora_lab.demo_runner

test: venv browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv browser
	@for script in benchmarks/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

lint: venv
	$(BIN)/ruff check sora_lab tests benchmarks dashboards

stop:
	@$(BIN)/python -m sora_lab.demo_runner --stop

clean-lab:
	rm -rf $(SORA_LAB_HOME)
