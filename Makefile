# preau: `make` lists the targets. The two commands a fresh machine needs are `make demo` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(PATH)
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help
help: ## show this help
	@grep -hE '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: bootstrap
bootstrap: ## install host packages and the Python 3.12 virtualenv (idempotent)
	@scripts/bootstrap

.PHONY: demo
demo: bootstrap ## fresh machine -> local NetBox up, demo département pushed, collèges and inventory shown
	@scripts/demo

.PHONY: test
test: bootstrap ## fresh machine -> lint, unit, NetBox and lab integration tests
	@scripts/test

.PHONY: lint
lint: bootstrap ## ruff, mypy, yamllint, ansible-lint
	@scripts/lint

.PHONY: goldens
goldens: bootstrap ## regenerate the network golden files after a deliberate template change
	@$(BIN)/preau net goldens --update

.PHONY: unit
unit: bootstrap ## fast tests only (no NetBox, no containers)
	@$(BIN)/pytest -q -m "not netbox and not lab and not molecule" tests
