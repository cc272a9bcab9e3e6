# The two commands of the README. Everything else is `.venv/bin/airscope --help`.
.PHONY: up down test lint stack-check bootstrap bench-overhead

VENV := .venv/bin

bootstrap:
	@scripts/bootstrap.sh

up: bootstrap
	@$(VENV)/airscope up

down:
	@if [ -x $(VENV)/airscope ]; then $(VENV)/airscope down; else echo "nothing to stop: no .venv yet"; fi

lint: bootstrap
	@$(VENV)/ruff check src tests
	@$(VENV)/ruff format --check src tests
	@$(VENV)/lint-imports --no-cache --no-logo

# The generated files are current, and pass every static check (promtool, amtool, PromQL, ...).
stack-check: bootstrap
	@$(VENV)/airscope gen --check
	@$(VENV)/airscope check

test: bootstrap lint stack-check
	@$(VENV)/pytest

bench-overhead: bootstrap
	@$(VENV)/airscope bench overhead
