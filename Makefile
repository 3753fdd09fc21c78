# kc-scim — everything a fresh machine needs goes through these targets.
# Keycloak is fetched from the Maven registry into ~/.cache/kc-scim.

SHELL := /bin/bash
CARGO ?= cargo
KC_PORT ?= 8080
DEMO_REALM ?= demo
BIND ?= 127.0.0.1:8090

.PHONY: all build run test test-unit lint fmt fuzz fuzz-ci reliability keycloak-start keycloak-stop clean tools check-compose \
	bench bench-quick bench-pg bench-quick-pg bench-growth bench-scaleout bench-cpu bench-users-2000 bench-check conformance conformance-keycloak

all: lint check-compose test

build:
	$(CARGO) build --release

## Keycloak (dev mode, embedded H2 file database) + bootstrapped demo realm + kc-scim serve,
## behind nginx on one host (http://localhost:$(KC_PORT)).
run:
	KC_PORT=$(KC_PORT) ./scripts/run-demo.sh

## Every test: unit, property, and integration tests against one real Keycloak.
test: tools
	KC_PREBUILD="$(CARGO) test --all-targets --no-run" ./keycloak/with-keycloak.sh $(CARGO) test --all-targets --no-fail-fast

## Unit and property tests only (no Keycloak).
test-unit:
	$(CARGO) test --lib

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	./scripts/check-boundaries.sh

## Debian packages the checks and tests need (nginx, docker-compose, python3-yaml,
## chromium and chromium-driver for the browser test).
tools:
	./scripts/ensure-tools.sh

## docker-compose.yml, Dockerfile and nginx template checked without a Docker engine.
check-compose: tools
	./scripts/check-compose.sh

fmt:
	$(CARGO) fmt --all

## One million cases of each parser / PATCH property test.
fuzz:
	PROPTEST_CASES=$${PROPTEST_CASES:-1000000} $(CARGO) test --release --lib scim::proptests -- --nocapture

## The parser / PATCH property tests with 20,000 cases each, bounded in time (CI).
fuzz-ci:
	PROPTEST_CASES=$${PROPTEST_CASES:-20000} timeout --signal=KILL $${FUZZ_CI_TIMEOUT:-900} \
		$(CARGO) test --lib scim::proptests

## The long reliability tests: Keycloak killed under load and restarted on its
## database, H2 file and PostgreSQL (keycloak/pg-start.sh). They start their own
## Keycloak (keycloak/start.sh, free ports; KC_LONG_PORTS=<http>,<mgmt>,<pg> pins them).
reliability:
	timeout --signal=KILL $${RELIABILITY_TIMEOUT:-1800} \
		$(CARGO) test --features long-tests --test reliability_long -- --nocapture

## kc-scim vs Keycloak's SCIM API vs the raw Admin API on one Keycloak (docs/benchmarks.md).
bench:
	./scripts/bench.sh full

## The same, reduced: 1,000 seeded users, concurrency 1 and 8, a few minutes.
bench-quick:
	./scripts/bench.sh quick

## make bench and make bench-quick with Keycloak on its own PostgreSQL (keycloak/pg-start.sh).
bench-pg:
	BENCH_DB=postgres ./scripts/bench.sh full

bench-quick-pg:
	BENCH_DB=postgres ./scripts/bench.sh quick

## Lookups, GET, PATCH and pages of kc-scim beside the raw Admin API as one realm on
## PostgreSQL grows to 1,000, 10,000 and 100,000 users (BENCH_SIZES, BENCH_REPS).
bench-growth:
	BENCH_DB=$${BENCH_DB:-postgres} ./scripts/bench.sh growth

## The quick workloads through nginx in front of one, then two kc-scim replicas
## on one Keycloak (concurrency 8 and 32).
bench-scaleout:
	./scripts/bench.sh scaleout

## CPU µs and p50 ms per GET, lookup, PATCH and member add of this tree's build (one actix worker), beside
## the build of BENCH_CPU_BASE=<rev> when given; BENCH_PERF=1 adds a perf profile.
bench-cpu:
	./scripts/bench.sh cpu

## /Users pages and filtered lookups on a realm of 2,000 users, with checks.
bench-users-2000:
	./scripts/bench.sh users2000

## scim2-tester and scim-sanity (pinned, from PyPI) against a sidecar, judged against
## tests/conformance/exclusions.txt (docs/conformance.md); KC_TEST_URL or a fresh Keycloak.
conformance:
	./scripts/conformance.sh

## The same tools against Keycloak's own SCIM API (--features=scim-api); a report, not a gate.
conformance-keycloak:
	./scripts/conformance.sh --target keycloak

## The load driver's own unit tests (tools/kc-scim-bench); no Keycloak needed.
bench-check:
	$(CARGO) test -p kc-scim-bench

keycloak-start:
	KC_DB=dev-file ./keycloak/start.sh

keycloak-stop:
	./keycloak/stop.sh

clean:
	$(CARGO) clean
