# Two commands matter: `make dev` (run it) and `make test` (test it).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export CARGO_TERM_COLOR ?= never

# Settings for the test run, written once in tests/test.env (the Rust tests
# read the same file).
TEST_ENV := $(shell grep -v '^\#' tests/test.env)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: stack
stack: ## install (if missing) and start PostgreSQL, Redis, Tansu, nx-27017
	@local/stack.sh up

.PHONY: stack-down
stack-down: ## stop the services that `make stack` started (reused ones stay up)
	@local/stack.sh down

.PHONY: dev
dev: ## start the stack, migrate, seed, serve the API on http://localhost:3000
	@local/dev.sh

.PHONY: watch
watch: ## every function under cargo lambda watch on :3000 (hot reload; dev only, not for load)
	@local/watch.sh

.PHONY: build
build:
	cargo build --workspace --all-targets

.PHONY: web
web: ## build the web app into web/dist (served at / by the gateway)
	@web/build.sh

.PHONY: test
test: stack web ## start the stack, build, run every test (unit, handler, end-to-end, contract, browser, AWS, sam local)
	cargo build --workspace --all-targets
	$(TEST_ENV) target/debug/local-gateway setup --fresh
	@mkdir -p .data
	set -o pipefail; $(TEST_ENV) cargo test --workspace --no-fail-fast 2>&1 | tee .data/test.log
	set -o pipefail; $(TEST_ENV) tests/contract.sh 2>&1 | tee -a .data/test.log
	set -o pipefail; $(TEST_ENV) tests/watch_smoke.sh 2>&1 | tee -a .data/test.log
	set -o pipefail; $(TEST_ENV) tests/browser_checks.sh 2>&1 | tee -a .data/test.log
	set -o pipefail; tests/aws_checks.sh 2>&1 | tee -a .data/test.log
	set -o pipefail; $(MAKE) --no-print-directory sam-smoke 2>&1 | tee -a .data/test.log
	@awk '/^test result:/ { passed += $$4; failed += $$6 } /^(contract|watch smoke|browser checks|aws checks|sam local):/ { passed += $$(NF-3); failed += $$(NF-1) } END { printf "%d passed, %d failed\n", passed, failed }' .data/test.log

.PHONY: lint
lint: ## rustfmt and clippy, warnings are errors
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: bench
bench: stack ## latency at fixed rates and capacity at 500 connections, beside the floors
	@bench/run.sh

.PHONY: sam-local
sam-local: ## the same functions in Lambda containers: sam local start-api on :3000 (docker.io, no image pull)
	@local/sam-local.sh up

.PHONY: sam-smoke
sam-smoke: ## start sam-local on :3300, run the fan's path through it, stop what it started
	@SAM_PORT=3300 local/sam-local.sh up && SAM_PORT=3300 tests/sam_local_smoke.sh; rc=$$?; local/sam-local.sh down; exit $$rc

.PHONY: package
package: ## sam build of every function (cargo-lambda + zig, release, no Docker); prints each bootstrap's size
	@local/package.sh
