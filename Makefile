# ccmetrics: `make demo` runs the service with simulated traffic; `make test` runs every test.
# Both start from nothing: they create .venv, download Kafka's jars and start a broker.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: venv kafka-jars prometheus-tools browser compiler allocator rules lint types unit test soak soak-memory demo bench clean

venv: $(STAMP)
$(STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (Python 3.11+)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

kafka-jars: venv
	$(BIN)/python -m tools.kafka_local fetch

# promtool, prometheus and amtool from Debian's packages (installed once, as root).
prometheus-tools:
	@command -v promtool >/dev/null && command -v prometheus >/dev/null && command -v amtool >/dev/null || { \
	  echo "installing Debian's prometheus and prometheus-alertmanager ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus prometheus-alertmanager; }

# Chromium and its driver from Debian's packages, for the wallboard's browser test (as root).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  echo "installing Debian's chromium and chromium-driver ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

# A C compiler for the compiled build (mypyc; tools/compiled.py), from Debian's packages (as root).
compiler:
	@command -v gcc >/dev/null || { \
	  echo "installing Debian's gcc ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev; }

# jemalloc, the worker's allocator where installed (stream/allocator.py), from Debian's packages (as root).
allocator: venv
	@$(BIN)/python -c "from stream.allocator import library_path as found; raise SystemExit(found() is None)" || { \
	  echo "installing Debian's libjemalloc2 ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjemalloc2; }

rules: prometheus-tools
	promtool check config prometheus/prometheus.yml
	cd prometheus && promtool test rules tests/*.yml
	amtool check-config prometheus/alertmanager.yml
	amtool config routes test --config.file=prometheus/alertmanager.yml --verify.receivers=on-call-pager severity=page
	amtool config routes test --config.file=prometheus/alertmanager.yml --verify.receivers=supervisors-chat severity=warning

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m tools.function_lengths metrics stream --over 40

types: venv
	$(BIN)/mypy

unit: venv
	$(BIN)/pytest -m "not kafka and not soak" -q

test: venv kafka-jars prometheus-tools browser compiler allocator lint types rules
	$(BIN)/pytest -q
	$(BIN)/python -m tools.compiled test

soak: venv kafka-jars allocator
	$(BIN)/pytest -q -m soak

# Two hours: a worker under simulated traffic; reports whether its memory stays flat.
soak-memory: venv kafka-jars allocator
	$(BIN)/python -m benchmarks.memory_soak

demo: venv kafka-jars allocator
	exec $(BIN)/python -m tools.demo

# Every benchmark, each printing its ratio to a baseline measured in the same run (about half
# an hour; recovery publishes and processes a million events, memory_held 4.8 million).
BANK_TSV := ../shared/data/anonymous-bank/february-1999.tsv
BANK := .cache/bank/february-1999.jsonl
# The quix-streams peer of benchmarks/kafka_throughput.py, in a venv of its own (not a dependency).
QUIX_VENV := .cache/quix-venv
# tools/compiled.py's build: what the image runs, so the worker make bench measures
COMPILED := $(CURDIR)/.cache/compiled/tree
$(QUIX_VENV)/.installed:
	$(PYTHON) -m venv $(QUIX_VENV)
	$(QUIX_VENV)/bin/pip install -q quixstreams==3.28.1
	touch $@

bench: venv kafka-jars compiler allocator $(QUIX_VENV)/.installed
	$(BIN)/python -m tools.compiled build
	@if [ -f $(BANK_TSV) ]; then \
	  mkdir -p .cache/bank; [ -f $(BANK) ] || $(BIN)/python -m benchmarks.anonymous_bank convert $(BANK_TSV) $(BANK); \
	  $(BIN)/python -m benchmarks.replay_throughput $(BANK); \
	  $(BIN)/python -m benchmarks.compiled_engine $(BANK); \
	fi
	$(BIN)/python -m benchmarks.replay_throughput
	$(BIN)/python -m benchmarks.compiled_engine
	$(BIN)/python -m benchmarks.scrape_render
	cd .cache/compiled/tree && $(CURDIR)/$(BIN)/python -m benchmarks.scrape_render  # as the image renders
	cd .cache/compiled/tree && $(CURDIR)/$(BIN)/python -m benchmarks.contribution_log  # a queue's window log
	$(BIN)/python -m benchmarks.kafka_throughput --tree $(COMPILED)  # and the interpreted one beside it
	$(BIN)/python -m benchmarks.latency --tree $(COMPILED)
	$(BIN)/python -m benchmarks.idle_cpu --tree $(COMPILED)
	$(BIN)/python -m benchmarks.recovery --tree $(COMPILED)
	$(BIN)/python -m benchmarks.catchup_scrapes --tree $(COMPILED)
	$(BIN)/python -m benchmarks.state_size
	$(BIN)/python -m benchmarks.memory_held --tree $(COMPILED)

clean:
	rm -rf $(VENV) .cache/kafka-run .mypy_cache .ruff_cache .pytest_cache
