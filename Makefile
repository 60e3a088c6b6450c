# The two commands of the README: `make demo` and `make test`. Both set up what they need.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
RABBIT := /usr/lib/rabbitmq/bin/rabbitmq-server

.PHONY: demo test test-unit mutate mutate-check bench soak rabbitmq postgres faketime browser netns venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian's RabbitMQ; the tests and the demo start private instances of it on loopback ports.
# openssl: the broker names its TLS revocation list by OpenSSL's issuer hash (`openssl crl -hash`).
rabbitmq:
	@test -x $(RABBIT) && command -v openssl >/dev/null || { \
	  echo "installing Debian rabbitmq-server and openssl"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root (or: sudo apt-get install rabbitmq-server openssl)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server openssl >/dev/null; }
	@test -x $(RABBIT)

# iproute2 ('ip netns') for the separate-hosts system test (it runs as root; skipped otherwise).
netns:
	@command -v ip >/dev/null || { \
	  echo "installing Debian iproute2"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root (or: sudo apt-get install iproute2)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null; }

# Debian's PostgreSQL server binaries; tests start a private server of their own.
postgres:
	@{ ls /usr/lib/postgresql/*/bin/initdb && command -v pg_autoctl; } >/dev/null 2>&1 || { \
	  echo "installing Debian postgresql"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root (or: sudo apt-get install postgresql)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql postgresql-15-auto-failover pg-auto-failover-cli >/dev/null; }

# Debian's faketime: the clock-skew system tests run a node with a faked clock.
faketime:
	@test -x /usr/bin/faketime || { \
	  echo "installing Debian faketime"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root (or: sudo apt-get install faketime)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq faketime >/dev/null; }

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser), and
# a CJK font so that Chinese pages render (and their screenshots show characters, not boxes).
browser:
	@test -x /usr/bin/chromium && test -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || { \
	  echo "installing Debian chromium"; \
	  if [ "$$(id -u)" != 0 ]; then echo "need root (or: sudo apt-get install chromium fonts-wqy-microhei)"; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

# `make demo KEEP=1` leaves the federation and its web consoles running until Ctrl-C.
demo: venv rabbitmq
	$(VENV)/bin/somex demo $(if $(KEEP),--keep)

# tests/run_suite.sh: tests/system in a lane of its own alongside the rest, then the node suite a
# second time with every node's tables on PostgreSQL (issue 18; tests that read the SQLite files
# themselves are marked sqlite_only). PYTEST_ARGS narrows it to one plain pytest run.
NODE_SUITE = tests/integration/test_node_api.py::test_the_nodes_run_on_the_database_the_suite_asked_for \
	tests/integration/test_alerts.py tests/integration/test_cases.py tests/integration/test_mla.py \
	tests/integration/test_delivery.py tests/integration/test_outbox.py

test: venv rabbitmq postgres faketime browser netns
	NODE_SUITE='$(NODE_SUITE)' tests/run_suite.sh $(PY) $(PYTEST_ARGS)

test-node-postgres: venv rabbitmq postgres
	SOMEX_TEST_NODE_DB=postgresql $(PY) -m pytest -m "not sqlite_only and not sqlite_speed" $(NODE_SUITE) $(PYTEST_ARGS)

test-unit: venv
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

# Mutation testing of crypto/ and protocol/ (not in `make test`): MODULES=crypto/signing.py narrows it.
# Takes about an hour on a busy 2-core machine; docs/testing.md says how to read the table.
mutate: venv
	$(PY) -c 'import mutmut' 2>/dev/null || $(PY) -m pip install --quiet -e '.[test,mutate]'
	$(PY) -m tests.mutation.run --survivors $(MODULES)

# CI (.ci/run): mutate only the changed functions of the trust-guarding modules, at most 7 minutes,
# and fail when one scores below the floor recorded in tests/mutation/floors.json.
mutate-check: venv
	$(PY) -c 'import mutmut' 2>/dev/null || $(PY) -m pip install --quiet -e '.[test,mutate]'
	$(PY) -m tests.mutation.run --check --jobs 2 --deadline 420

bench: venv rabbitmq
	$(PY) -m tests.bench

# The 1-hour soak (issue 18): hub and nodes in their own processes, a table per minute, a verdict.
soak: venv rabbitmq
	$(PY) -m tests.bench.bench_load --soak 3600 --rate 100

clean:
	rm -rf $(VENV) .somex .somex-demo .pytest_cache .hypothesis mutants
