# The two commands of the README. Everything else is `.venv/bin/airscope --help`.
.PHONY: up down test lint bootstrap bench-overhead

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

test: bootstrap lint
	@$(VENV)/pytest

bench-overhead: bootstrap
	@$(VENV)/airscope bench overhead
