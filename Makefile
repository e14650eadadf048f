# zerodown.deploy developer entry points. Every target does its own set-up on
# a fresh Debian machine (as root): apt packages, services, a virtualenv with
# the pinned packages, and the ansible_collections/zerodown/deploy path that
# ansible-test and ansible need. The repository itself stays flat.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
COLLECTIONS := $(CURDIR)/.collections
COLL := $(COLLECTIONS)/ansible_collections/zerodown/deploy
STAMP := $(VENV)/.zerodown-$(shell cat requirements/test.txt | md5sum | cut -c1-12)

export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH := false
export ZERODOWN_VENV := $(VENV)
export PATH := $(BIN):$(PATH)
# pytest exit code 5 ("no tests ran") is a non-zero exit and fails the target.
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: help test setup host venv link sanity lint ruff docs galaxy unit integration molecule changelog clean demo demo-down \
  ee ee-test

help:
	@echo "make test         set up everything, then sanity, lint, ruff, docs, galaxy, unit, integration, ee-test, molecule"
	@echo "make docs         antsibull-docs lint, then the docsite in build/docsite (reference generated from the source)"
	@echo "make galaxy       build the collection tarball and run galaxy-importer on it"
	@echo "make unit         unit tests only (after set-up)"
	@echo "make integration  module integration tests against real HAProxy, nginx, HTTP(S), databases"
	@echo "make molecule     end-to-end scenarios on the systemd-nspawn test fleet"
	@echo "make ee           the execution environment image (ansible-builder, podman, a local Debian base)"
	@echo "make ee-test      make ee, then check the image has what the collection needs (tests/integration/ee)"
	@echo "make demo         boot the fleet, install v1, deploy v2 under load (STRATEGY=rolling|blue_green|canary)"
	@echo "make demo-down    remove the demo fleet"

# ee-test builds the execution environment image (cached) that the rolling scenario then deploys from
test: setup sanity lint ruff docs galaxy unit integration ee-test molecule
	@echo "zerodown.deploy: all test stages passed"

setup: host venv link

host:
	@bash scripts/ensure-host.sh

# zerodown-dev.pth in the venv's site-packages names this checkout's tests/ (the
# test-support package zerodown_testkit) and .collections (the collection as
# ansible_collections.zerodown.deploy), so tests, bench/, demo/, molecule and
# `python -m zerodown_testkit.fleet` import both from any directory, with no
# sys.path changes in code. Python skips a .pth line whose directory is missing
# when it starts, hence the link first.
venv: $(STAMP) link
	@printf '%s\n' "$(CURDIR)/tests" "$(COLLECTIONS)" \
	  > "$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/zerodown-dev.pth"
$(STAMP): requirements/test.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --upgrade pip
	@$(BIN)/python -m pip install -q -r requirements/test.txt
	@rm -f $(VENV)/.zerodown-* && touch $@

link:
	@mkdir -p $(dir $(COLL))
	@ln -sfn ../../.. $(COLL)

# ansible-test resolves its working directory, so a symlink will not do: it
# tests a copy of the files git tracks (plus new, not ignored ones), kept
# outside this checkout so that ansible-test does not mistake our .git for
# the copy's.
SANITY_COPY := /tmp/zerodown-sanity-$(shell echo $(CURDIR) | md5sum | cut -c1-8)/ansible_collections/zerodown/deploy
sanity: venv
	@pipver=$$(sed -n "s/^ *pip='\([0-9.]*\)',/\1/p" $(VENV)/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py); \
	  mkdir -p ~/.ansible/test/cache; \
	  cp scripts/get-pip-shim.py ~/.ansible/test/cache/get_pip_$${pipver//./_}.py
	@rm -rf $(SANITY_COPY) && mkdir -p $(SANITY_COPY)
	@git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ $(SANITY_COPY)/
	cd $(SANITY_COPY) && $(BIN)/ansible-test sanity --color no --python 3.11 --venv --requirements $(SANITY_ARGS)

lint: venv link
	$(BIN)/ansible-lint --profile production

ruff: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The module, plugin and role reference comes from DOCUMENTATION / RETURN / argument specs (antsibull-docs), the
# hand-written pages are linked beside it (docs/docsite/, scripts/docsite.py).
docs: venv link
	$(BIN)/antsibull-docs lint-collection-docs --plugin-docs $(COLL)
	$(BIN)/python scripts/docsite.py $(CURDIR)/build/docsite

# The tarball as Galaxy imports it (galaxy-importer.cfg: no ansible-test container; make sanity runs ansible-test).
galaxy: venv link
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	  $(BIN)/ansible-galaxy collection build --output-path "$$out" . && \
	  cd "$$out" && GALAXY_IMPORTER_CONFIG=$(CURDIR)/galaxy-importer.cfg \
	    $(BIN)/python -m galaxy_importer.main zerodown-deploy-*.tar.gz > importer.log 2>&1 || { cat importer.log; exit 1; }; \
	  if grep -E '^(WARNING|ERROR)' importer.log; then echo "galaxy-importer: warnings or errors above"; exit 1; fi; \
	  tail -1 importer.log

# Two workers (pytest-xdist): every worker must collect the same test ids, so no id may hold an object's address
# or depend on set order (tests/unit/test_testkit.py checks the ids of two collections).
unit: venv link
	$(PYTEST) -n 2 tests/unit

# tests/integration/ee needs the execution environment image (about 2 minutes cold): its own stage, make ee-test.
integration: host venv link
	$(PYTEST) -n 2 --dist loadfile --durations=10 --ignore=tests/integration/ee tests/integration

molecule: host venv link
	@set -e; for scenario in $$(ls molecule 2>/dev/null); do \
	  echo "== molecule test -s $$scenario"; \
	  $(BIN)/molecule test -s $$scenario; \
	done

# The demo: set-up, fleet, v1, then a deploy of v2 under load with STRATEGY (rolling, blue_green, canary).
STRATEGY ?= rolling
DEMO_ARGS ?=
demo: host venv link
	$(BIN)/python demo/run.py --strategy $(STRATEGY) $(DEMO_ARGS)

demo-down: venv
	$(BIN)/python -m zerodown_testkit.fleet down --name $${ZERODOWN_DEMO_FLEET:-zddemo}

# The execution environment image from execution-environment.yml: scripts/ee_build.py (base, collection tarball, the
# host's pip index, ansible-builder build); every step cached, EE_ARGS=--no-cache rebuilds the image's layers.
EE_ARGS ?=
ee: host venv link
	$(BIN)/python scripts/ee_build.py $(EE_ARGS)

ee-test: host venv link
	$(PYTEST) tests/integration/ee

changelog: venv
	$(BIN)/antsibull-changelog lint

clean:
	rm -rf .collections tests/output build $(SANITY_COPY) .pytest_cache .ruff_cache
