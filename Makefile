# Quire: two commands matter. `make run` starts a server on the embedded
# store; `make test` runs every test, starting a real Cassandra 5.0 node and a
# real OpenSearch 2.19 node when QUIRE_TEST_CASSANDRA and QUIRE_TEST_OPENSEARCH
# do not name them.
GO        ?= go
BIN       := bin/quire
DEVCONFIG := examples/quire-dev.toml
STATICCHECK_VERSION := v0.8.2

.PHONY: all build run test test-unit lint fuzz bench-lmtp bench-imap bench-imap-large bench-imapidle bench-pop3 bench-search bench-quick check-long check-cluster cassandra-start cassandra-stop clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/quire

run: build
	$(BIN) serve --config $(DEVCONFIG)

# Everything: lint, unit tests and the backend conformance suites against a
# real Cassandra (started here unless QUIRE_TEST_CASSANDRA is set).
test: build lint
	scripts/test.sh

# A developer's quick run: no external servers, Cassandra tests skip.
test-unit:
	$(GO) test -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) test -count=1 ./internal/lint/

# Short fuzz runs of every fuzz target (longer: FUZZTIME=10m make fuzz).
FUZZTIME ?= 20s
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# Benchmarks against Dovecot in the same run (docs/BENCHMARKS.md).
bench-lmtp: build
	$(GO) run ./bench/lmtp

bench-imap: build
	$(GO) run ./bench/imap

# One INBOX of 100,000 messages (fills for about 15 minutes, Dovecot's
# share most of it): SELECT, NOOP, FETCH 1:* FLAGS, UID SEARCH UNSEEN.
bench-imap-large: build
	$(GO) run ./bench/imap -large 100000 -targets embedded,dovecot -out bench/out/imap-large.md

bench-imapidle: build
	$(GO) run ./bench/imapidle -targets embedded,cassandra,dovecot

bench-search: build
	$(GO) run ./bench/search -out bench/out/search.md

bench-pop3: build
	$(GO) run ./bench/pop3

# Logins per second with real password hashes (argon2id against Dovecot's
# default scheme and its ARGON2ID), on ports of its own.
.PHONY: bench-login
bench-login: build
	$(GO) run ./bench/login -dovecot-lmtp-port 13424 -dovecot-imap-port 13143 -dovecot-pop3-port 13110 -out bench/out/login.md

# The quick set that guards the defaults (about 10 minutes): lmtp, imap,
# pop3, idle memory and search at 5,000 messages against Dovecot, one
# report in bench/out/quick.md; fails when a ratio is below its target.
bench-quick: build
	$(GO) run ./bench/quick

# The concurrency checker for 10 minutes (its 60 s run is part of make test).
check-long: build
	$(GO) run ./bench/checker -duration 10m

# The checker's node-loss scenarios on a three-node Cassandra cluster that
# scripts/cassandra-cluster.sh starts (and stops): about 10 minutes. Run it
# whenever internal/store/cassandra changes.
check-cluster: build
	scripts/check-cluster.sh

# The stress test (bench/stress) for 10 minutes: 5 per isc.mode (its 60 s
# run is part of make test).
.PHONY: stress-long
stress-long: build
	$(GO) run ./bench/stress -duration 5m

cassandra-start:
	scripts/cassandra.sh start

cassandra-stop:
	scripts/cassandra.sh stop

clean:
	rm -rf bin
