# harender: make demo runs the whole thing on loopback; make test tests it.
# Both install what is missing first (make deps): HAProxy 2.6, Serf and wrk
# from Debian, HAProxy 3.0 built from Debian's source package, HAProxy 3.4
# built from upstream source, and a Consul agent built from the Go module
# proxy. Installing needs root (apt-get).

BIN       := $(CURDIR)/bin
GO        ?= go
HAPROXY26 ?= /usr/sbin/haproxy
HAPROXY30 ?= $(BIN)/haproxy-3.0
HAPROXY34 ?= $(BIN)/haproxy-3.4
CONSUL    ?= $(BIN)/consul
export CONSUL_BIN  := $(CONSUL)
# Oldest to newest: the fault tests of make test run on the last one.
export HAPROXY_BINS := $(HAPROXY26):$(HAPROXY30):$(HAPROXY34)
export HAPROXY_BIN := $(HAPROXY26)

# Packages that run goroutines get the race detector. The sidecar's
# end-to-end tests run under it against one HAProxy (3.0) and without the
# 30s load runs (-short): a data race in harender does not depend on
# HAProxy's version, and this keeps CI well under 20 minutes.
RACE_PKGS := ./watch/ ./haproxy/ ./internal/apply/

.PHONY: all build test test-unit test-race deps deps-apt demo demo-failover faults fuzz bench lint clean

all: build

build:
	$(GO) build -o $(BIN)/harender ./cmd/harender
	$(GO) build -o $(BIN)/gateway ./examples/gateway

deps: deps-apt $(HAPROXY30) $(HAPROXY34) $(CONSUL) consul-template

deps-apt:
	@missing=""; \
	for p in haproxy:$(HAPROXY26) serf:/usr/bin/serf wrk:/usr/bin/wrk \
	         gnuplot-nox:/usr/bin/gnuplot socat:/usr/bin/socat keepalived:/usr/sbin/keepalived; do \
	  [ -x "$${p#*:}" ] || missing="$$missing $${p%%:*}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

$(HAPROXY30):
	scripts/install-haproxy-3.0.sh $(BIN)

# 3.4.0 from ../shared/haproxy's tarball where it exists, else from
# haproxy.org; checked against its sha256 either way.
$(HAPROXY34):
	scripts/install-haproxy-3.4.sh $(BIN)

$(CONSUL): tools/consul/go.mod
	tools/consul/install.sh $(BIN)

# The README's test command. CI=true turns a missing binary into a failure.
test: deps build
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -race -timeout 15m $(RACE_PKGS)
	HAPROXY_BINS=$(HAPROXY30) $(GO) test -count=1 -race -short -timeout 15m ./cmd/harender/
	$(MAKE) fuzz
	GO=$(GO) scripts/deb-test.sh

# The load-balancer pair of examples/ha (two nodes with keepalived, VRRP in
# network namespaces; root): every fault on the active node, the node's
# return after each; prints the table and writes docs/ha.md. About 3 min.
# make test runs one fault of it (TestHAPairHAProxyKilled).
.PHONY: ha-test
ha-test: deps build
	HA_FULL=1 HA_TABLE=$(CURDIR)/docs/ha.md $(GO) test -count=1 -v -timeout 15m -run 'TestHAPairTable' ./examples/ha/

test-unit:
	$(GO) test -short -count=1 ./...

demo: deps build
	scripts/demo.sh

demo-failover: deps build
	DEMO_EXIT=1 scripts/demo.sh

# The .deb: bin/harender_<version>_amd64.deb from packaging/nfpm.yaml, with
# nfpm built once into bin/ from the Go module proxy (tools/nfpm). make test
# installs, checks and removes it (scripts/deb-test.sh, needs root).
.PHONY: deb
deb:
	GO=$(GO) scripts/deb-build.sh

# The fault table of issue 7: every row an end-to-end test under wrk load.
faults: deps build
	scripts/faults.sh

# Every fuzz target for FUZZTIME each (scripts/fuzz.sh); about 1.5 min
# on 2 cores at 5s. Longer by hand: make fuzz FUZZTIME=5m.
FUZZTIME ?= 5s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# Issue 8's benchmark, about 40 minutes on a quiet machine: the Go
# benchmarks (bench-micro); the mixed churn (1,000 membership events of
# every kind, 100 KV changes that reload) for harender, harender with
# reload = "always" and consul-template on HAProxy 3.0 and 3.4
# (docs/bench.md and docs/bench.png); the scale run (bench-scale).
# BENCH_STACKS and BENCH_EVENTS make it shorter.
BENCH_STACKS ?= harender@3.0,harender-always@3.0,consul-template@3.0,harender@3.4,harender-always@3.4,consul-template@3.4
BENCH_EVENTS ?= 1000
.PHONY: bench bench-micro
bench: deps build bench-micro
	SCENARIO=mixed EVENTS=$(BENCH_EVENTS) KV_EVERY=10 STACKS=$(BENCH_STACKS) OUT=docs/bench.md TITLE="make bench" \
		scripts/bench-churn.sh
	$(MAKE) bench-scale

# Go benchmarks of render and plan.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem ./renderer/ ./haproxy/ ./cmd/harender/

# Issue 8's scale table: harender run and consul-template on 1,000 services
# x 10 instances (SERVICES, INSTANCES, NODES), idle for IDLE seconds and
# under RATE churn events a second for CHURN seconds, against one real agent:
# connections, requests a minute, RSS, cmp of the outputs, render and plan
# benchmarks. About 8 minutes; writes docs/bench-scale.md.
.PHONY: bench-scale
bench-scale: $(CONSUL) consul-template
	scripts/bench-scale.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt: $$out"; exit 1; }
	$(GO) vet ./...

clean:
	rm -rf $(BIN)

# consul-template v0.42.1, for the byte-for-byte compatibility test
# (cmd/harender/compat_test.go); built from the Go module proxy.
.PHONY: consul-template
consul-template: $(BIN)/consul-template

$(BIN)/consul-template: tools/consul-template/install.sh
	tools/consul-template/install.sh $(BIN)

# Fabio v1.6.3 (MIT), a peer of make compare, built from the Go module
# proxy through the wrapper module tools/fabio.
.PHONY: fabio
fabio: $(BIN)/fabio

$(BIN)/fabio: tools/fabio/go.mod tools/fabio/install.sh
	tools/fabio/install.sh $(BIN)

# Which stack fails over best: harender, consul-template + HAProxy, Fabio,
# Serf + HAProxy (and harender on Serf), through churn, kill and flap under
# wrk (tools/bench). Several minutes; writes docs/compare.md and .png. Not
# part of make test. ARGS passes flags to the harness, e.g. ARGS=-smoke.
.PHONY: compare bench-churn
compare: deps fabio build
	scripts/compare.sh $(ARGS)

# Issue 8's churn table: harender (auto and reload = "always") beside
# consul-template + HAProxy, on the same harness. EVENTS, INTERVAL, KV_EVERY
# (e.g. EVENTS=1000 KV_EVERY=10); writes docs/compare-churn.md and .png.
bench-churn: deps build
	EVENTS=$(EVENTS) INTERVAL=$(INTERVAL) KV_EVERY=$(KV_EVERY) scripts/bench-churn.sh $(ARGS)
EVENTS   ?= 100
INTERVAL ?= 250ms
KV_EVERY ?= 0

# Issue 11's service churn: SERVICES routed services (urlprefix-/svc-NN)
# added one by one, then removed, under wrk on a stable route: harender's
# routes template and consul-template + HAProxy, each on HAProxy 3.4 and
# 3.0 (tools/bench -scenarios services): reloads, failed requests,
# registration to first 200, deregistration to 404, CPU. About 3 minutes;
# writes docs/compare-services.md. Not part of make test.
.PHONY: bench-services
bench-services: deps build
	SERVICES=$(SERVICES) scripts/bench-services.sh $(ARGS)
SERVICES ?= 20
