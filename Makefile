# Thin wrappers around the Go tool; see README.md.
GO ?= go
OUT ?= wschaos-report

.PHONY: run test race lint report fuzz bench toxiproxy-server

run: ## run the catalogue against the reference client and write the report
	$(GO) run ./cmd/wschaos run --out $(OUT)

test: ## unit tests and the quick scenario suite
	$(GO) test ./...

race: ## the same under the race detector
	$(GO) test -race ./...

lint: ## formatting and vet
	@test -z "$$(gofmt -l .)" || (echo "gofmt needed:"; gofmt -l .; exit 1)
	$(GO) vet ./...

report: ## re-render the HTML report from a stored result
	$(GO) run ./cmd/wschaos report $(OUT)/result.json -o $(OUT)/index.html

bench: ## performance figures measured side by side: medians of 5 runs (README, Performance figures)
	$(GO) run ./internal/cmd/benchratio -go $(GO) -count 5

fuzz: ## fuzz the protocol decoder for 60s
	$(GO) test ./protocol -run '^$$' -fuzz FuzzDecode -fuzztime 60s

toxiproxy-server: ## build an external toxiproxy-server from the pinned module
	$(GO) build -o bin/toxiproxy-server github.com/Shopify/toxiproxy/v2/cmd/server
