# The two commands (see README.md). Each sets up what it needs on a fresh machine.
#   make demo   - the README example, through a real proxy, against a local provider simulator
#   make test   - lint, types, generated-file check and the whole test suite (Jaeger included)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements/lock-hashes.txt | cksum | cut -d' ' -f1)

.PHONY: demo test lint jaeger lock clean

$(STAMP):
	rm -f $(VENV)/.installed-*
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/lock-hashes.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/llmobserve demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m semconv.generate --check

jaeger:
	@scripts/install-jaeger.sh

# The benchmark suite (docs/benchmarks.md); BENCH_ARGS=--quick for a run under 3 minutes.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

test: lint
	jaeger="$$(scripts/install-jaeger.sh)" && otelcol="$$(scripts/install-collector.sh)" && \
	LLMOBSERVE_JAEGER_BIN="$$jaeger" LLMOBSERVE_OTELCOL_BIN="$$otelcol" $(BIN)/python -m pytest

# Refresh requirements/lock.txt from a clean resolve of pyproject.toml's dev extra.
lock:
	rm -rf .venv-lock
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet -e ".[dev]"
	{ head -2 requirements/lock.txt; .venv-lock/bin/python -m pip freeze --exclude-editable; } > requirements/lock.tmp
	mv requirements/lock.tmp requirements/lock.txt
	.venv-lock/bin/python -m pip install --quiet pip-tools
	.venv-lock/bin/pip-compile --quiet --generate-hashes --no-strip-extras --allow-unsafe \
		--no-emit-find-links --output-file requirements/lock-hashes.txt requirements/lock.txt
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) .venv-lock
