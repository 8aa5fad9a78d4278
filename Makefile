# Two commands on a fresh Debian 12/13 machine: `make demo` and `make test`.
# Both install what is missing first (system packages via scripts/install-asterisk, the venv);
# `make test` also installs headless Chromium for the end-to-end tests (scripts/install-test-tools).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CLI := $(BIN)/contact-center
STAMP := $(VENV)/.installed

.PHONY: all setup system test-tools venv demo test test-postgresql unit integration lint typecheck check bench clean asterisk-start asterisk-stop

all: setup

setup: system venv

system:
	@if ! command -v asterisk >/dev/null 2>&1 || ! command -v espeak-ng >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1; then \
		echo "Installing Asterisk, espeak-ng and sox (scripts/install-asterisk)"; \
		scripts/install-asterisk; \
	fi

# Debian's chromium and chromium-driver for tests/e2e, its postgresql for the tests' own
# throw-away PostgreSQL, baresip for the real SIP tests (none needed by the demo)
test-tools:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v baresip >/dev/null 2>&1; then \
		echo "Installing headless Chromium, PostgreSQL and baresip for the tests (scripts/install-test-tools)"; \
		scripts/install-test-tools; \
	fi

# bytecode compiled here, by whoever installs: the service's own user cannot write
# __pycache__ under /opt/contact-center, and compiling every module at each start costs a
# restarted `serve` (and the `db upgrade` before it) about 0.5 s while answered customers
# wait in silence; compileall skips what is up to date
venv: $(STAMP)
	$(BIN)/python -m compileall -q contact_center autoinformer

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,postgres]'
	touch $(STAMP)

demo: setup
	$(CLI) db upgrade
	$(CLI) sounds build
	$(CLI) demo
	# the autoinformer: a debt campaign and a planned-outage campaign, then their reports
	$(CLI) campaign demo
	# the hotline: five simulated callers answered in-process (in opening hours), then the report
	$(CLI) sim hotline-calls --count 5 --in-hours --report
	@if $(CLI) asterisk status >/dev/null 2>&1; then \
		echo "Asterisk продолжает работать: $$($(CLI) asterisk status | head -n 1)"; \
		echo "Остановить: make asterisk-stop (или $(CLI) asterisk stop)"; \
	fi

test: setup test-tools
	$(BIN)/python -m pytest

# the tests of the database logic again, on the tests' own PostgreSQL (README "Development")
PG_TESTS := tests/unit/users tests/unit/operators tests/unit/customers tests/unit/hotline \
	tests/unit/autoinformer/test_call_journal.py tests/unit/autoinformer/test_writer.py \
	tests/unit/autoinformer/test_list_writer.py tests/unit/autoinformer/test_prerender.py \
	tests/integration/web tests/integration/autoinformer/test_campaign_calls.py \
	tests/integration/autoinformer/test_claimed_ahead.py::test_the_second_wave_is_claimed_before_the_first_ends

test-postgresql: setup test-tools
	$(BIN)/python -m pytest --db postgresql $(PG_TESTS)

unit: venv
	$(BIN)/python -m pytest tests/unit

integration: setup
	$(BIN)/python -m pytest tests/integration

lint: venv
	$(BIN)/ruff check .

typecheck: venv
	$(BIN)/mypy

# what CI checks before the tests (.ci/run): either failing fails the run
check: lint typecheck

bench: setup
	$(BIN)/python bench/speech.py
	# e-mail: the sender alone (target 200 letters/s), then a campaign through the mailer
	$(BIN)/python bench/email_throughput.py
	$(BIN)/python bench/email_throughput.py --campaign --messages 2000
	# the dialer's pre-render of a 100,000-contact campaign: the longest event-loop stall
	$(BIN)/python bench/prerender_stall.py
	# peak memory of a 200,000-row call list (campaign create) and customer base (import)
	$(BIN)/python bench/list_memory.py
	# live progress: event delivery p95 and the campaign's efficiency with/without SSE clients
	$(BIN)/python bench/sse.py --short

asterisk-start: setup
	$(CLI) asterisk start

asterisk-stop: venv
	$(CLI) asterisk stop

clean:
	-$(CLI) asterisk stop
	rm -rf $(VENV) var build *.egg-info
