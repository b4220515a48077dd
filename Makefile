# Thin wrappers around the Go tool; see README.md.
GO ?= go
OUT ?= wschaos-report
STRESS_CLIENTS ?= 1000
STRESS_DURATION ?= 60s
FUZZTIME ?= 60s

.PHONY: run test race lint report fuzz bench stress toxiproxy-server

run: ## run the catalogue against the reference client and write the report
	$(GO) run ./cmd/wschaos run --out $(OUT)

test: ## unit tests and the quick scenario suite
	$(GO) test ./...

race: ## the same under the race detector
	$(GO) test -race ./...

lint: ## formatting and vet
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...
	$(GO) vet -tags stress ./scenarios/...

report: ## re-render the HTML report from a stored result
	$(GO) run ./cmd/wschaos report $(OUT)/result.json -o $(OUT)/index.html

stress: ## the stress suite, then many clients under a seeded random fault schedule (README, Stress)
	$(GO) test -tags stress -run TestStress -count=1 -timeout 30m ./scenarios/...
	$(GO) run ./cmd/wschaos stress --clients $(STRESS_CLIENTS) --duration $(STRESS_DURATION) --out $(OUT)/stress

bench: ## performance figures measured side by side: medians of 5 runs (README, Performance figures)
	$(GO) run ./internal/cmd/benchratio -go $(GO) -count 5

# FuzzServerFrames's inputs reach 2 MiB messages; minimizing each new
# interesting one for the default 60s would take most of the fuzz time.
fuzz: ## fuzz the protocol decoder, the result reader, the fake server's frame handling and the stress wire's fast path, FUZZTIME each
	$(GO) test ./protocol -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME)
	$(GO) test ./result -run '^$$' -fuzz FuzzReport -fuzztime $(FUZZTIME)
	$(GO) test ./fakeserver -run '^$$' -fuzz FuzzServerFrames -fuzztime $(FUZZTIME) -fuzzminimizetime 2s
	$(GO) test ./internal/stress -run '^$$' -fuzz FuzzParseMessage -fuzztime $(FUZZTIME)

toxiproxy-server: ## build an external toxiproxy-server from the pinned module
	$(GO) build -o bin/toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server
