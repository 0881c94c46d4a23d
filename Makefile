# Parley — make run starts the chat on :8080; make test runs every test.
GO      ?= go
BIN     := bin/parley
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: run build test soak lint bench fuzz clean

run:
	$(GO) run ./cmd/parley

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/parley

# The Socket.IO tests drive the official npm clients in test/socketio
# (npm ci from the committed lockfile; without npm they are skipped, and in
# CI they fail).
SIO := test/socketio

test: lint $(SIO)/node_modules/.package-lock.json
	$(GO) test -race -count=1 -timeout 15m ./...

$(SIO)/node_modules/.package-lock.json: $(SIO)/package-lock.json
	@if command -v npm >/dev/null; then cd $(SIO) && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the Socket.IO client tests will be skipped"; fi

# Longer versions of the tests that try to break the guarantees
# (docs/GUARANTEES.md): more clients, more messages, 10% of 500 clients
# stuck, 10,000 reconnecting, longer random interleavings. Not under -race:
# the point is scale. One package at a time (-p 1): the storm's time bounds
# are about the server, not about the property test running beside it.
soak: $(SIO)/node_modules/.package-lock.json
	PARLEY_SOAK=1 $(GO) test -p 1 -count=1 -timeout 60m -v \
		-run 'TestKill9|TestReconnectStorm|TestOneSlowConsumer|TestProperty|TestResume' ./cmd/parley/ ./internal/node/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# Short fuzzing runs of every fuzz target (longer: FUZZTIME=10m make fuzz).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./internal/protocol/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeFast$$' -fuzztime $(FUZZTIME) ./internal/protocol/
	$(GO) test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) ./internal/markup/
	$(GO) test -run '^$$' -fuzz '^FuzzUnmarshal$$' -fuzztime $(FUZZTIME) ./internal/eventwire/

clean:
	rm -rf bin
