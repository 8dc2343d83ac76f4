# `make run` starts a complete farm on the example; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench clean

# RUNLEVEL=1: installing nginx must not start Debian's default site on port 80 (the
# benchmark runs its own nginx on 127.0.0.1).
setup: $(STAMP) $(BIN)/gtar
	@command -v zstd >/dev/null && command -v scanelf >/dev/null && command -v bwrap >/dev/null \
		&& command -v debootstrap >/dev/null && command -v nginx >/dev/null \
		&& command -v rsync >/dev/null && command -v wrk >/dev/null && command -v umoci >/dev/null \
		&& command -v skopeo >/dev/null && command -v distccd >/dev/null \
		&& command -v chromium >/dev/null || \
		{ apt-get update -qq && RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		zstd pax-utils wget bubblewrap debootstrap nginx rsync wrk umoci skopeo distcc \
		chromium >/dev/null; }

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Portage's unpack and binary package code call `gtar` unconditionally; Debian names it tar.
$(BIN)/gtar:
	ln -sf "$$(command -v tar)" $@

run: setup
	$(BIN)/binfarm serve --example

test: setup lint
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

# Speed targets, side by side with what an admin would otherwise run; not part of `test`.
bench: setup
	$(BIN)/python bench/keys.py
	$(BIN)/python bench/queue.py
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/longpoll.py
	$(BIN)/python bench/signing.py
	$(BIN)/python bench/binhost.py
	$(BIN)/python bench/overhead.py
	$(BIN)/python bench/images.py
	$(BIN)/python bench/distcc.py

lint: setup
	$(BIN)/ruff check src tests bench scripts/generate-example
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) var
