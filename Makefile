# Two commands for a fresh machine: `make run` and `make test`. Both go through `make install`, which is idempotent.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.install-stamp
# Debian packages the product needs at run time (espeak-ng: German voice) and for tests (sox: telephone audio;
# postgresql: the store's tests run against a real PostgreSQL server they start themselves; chromium: the browser
# tests, driven by Playwright without `playwright install`; sip-tester: SIPp, the SIP caller and registrar of the SIP
# carrier's tests).
# The German voices (mbrola, pico: synthetic German test callers for the phone-audio benchmark) come from Debian contrib/non-free: SVOX Pico
# (libttspico-utils, the default) and the MBROLA voices espeak-ng drives (mbrola, mbrola-de1…8); `make install`
# adds those two components of the machine's Debian release to apt's sources when they are missing.
APT_PACKAGES ?= espeak-ng espeak-ng-data sox libsndfile1 postgresql chromium sip-tester \
                libttspico-utils mbrola mbrola-de1 mbrola-de2 mbrola-de3 mbrola-de4 mbrola-de5 mbrola-de6 mbrola-de7 mbrola-de8
NONFREE_SOURCES := /etc/apt/sources.list.d/debian-contrib-nonfree.sources
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install system-packages run test test-fast lint models-check clean

install: system-packages $(STAMP) models-check

system-packages:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "apt-get install:$$missing"; \
	  if [ -r /etc/debian_version ] && ! grep -rqsE '(^|[[:space:]])non-free([[:space:]]|$$)' /etc/apt/sources.list /etc/apt/sources.list.d/ \
	     && . /etc/os-release && [ "$$ID" = debian ]; then \
	    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
	      "$$VERSION_CODENAME" | $(SUDO) tee $(NONFREE_SOURCES) >/dev/null; \
	  fi; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

models-check: $(STAMP)
	$(BIN)/receptionist models check

run: install
	$(BIN)/receptionist serve --demo --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest -q

# The quick loop while coding: no speech models, no browser (tests marked `slow` are left out), on every core
# (pytest-xdist). `make test` stays serial: its slow tests pace audio in real time and must not compete for the CPU.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" -n auto

lint: $(STAMP)
	$(BIN)/ruff check bot knowledge evals tests prompts

# Build outputs and the virtualenv only: ./data holds user data (companies, calls, messages, the index) and stays.
clean:
	rm -rf $(VENV) build *.egg-info test-output .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './data/*' -exec rm -rf {} +
