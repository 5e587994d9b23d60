# unico-reconcile: see README.md.
GO       ?= go
BIN      := bin/unico-reconcile
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Tests never see the caller's credentials or settings; UNICO_TEST_* (where
# the tests find PostgreSQL and Chromium, and whether they may skip) pass.
CLEANENV := env $(foreach v,$(filter-out UNICO_TEST_%,$(filter UNICO_%,$(.VARIABLES))),-u $(v))

.PHONY: build test lint bench demo clean fuzz

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

test:
	@[ -n "$$UNICO_TEST_POSTGRES" ] || echo "notice: UNICO_TEST_POSTGRES is not set: the PostgreSQL tests skip (see README, Running it in production)"
	$(CLEANENV) $(GO) test -race -count=1 ./...

STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(CLEANENV) $(GO) test -count=1 -run 'TestImportGraph' .
	$(GO) mod tidy -diff

# Every Fuzz function of every package, found by go test -list (a new one
# needs no edit here), each fuzzed for $(FUZZTIME); its seed corpus is in
# the package's testdata/fuzz/FuzzX/. What a fuzzer finds is written there
# too: turn it into a regular test case and fix it.
FUZZTIME ?= 30s

fuzz:
	@list=$$($(CLEANENV) $(GO) test -list '^Fuzz' ./...) || { echo "$$list"; exit 1; }; \
	targets=$$(echo "$$list" | awk '/^Fuzz/ { f[n++] = $$1; next } /^ok/ { for (i = 0; i < n; i++) print $$2 ":" f[i]; n = 0 }'); \
	[ -n "$$targets" ] || { echo "make fuzz: no Fuzz function found" >&2; exit 1; }; \
	n=0; for t in $$targets; do \
		pkg=$${t%%:*}; fn=$${t#*:}; \
		echo "fuzz $$fn ($$pkg) for $(FUZZTIME)"; \
		$(CLEANENV) $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		n=$$((n + 1)); \
	done; \
	echo "fuzz: $$n passed, 0 failed"

# Package benchmarks run for the usual second each; the end-to-end ones in
# the root package (rate at and above the limit, unlimited throughput, 1M-row
# peak memory) run once each: a single run takes from 10 s to a minute.
bench:
	$(CLEANENV) $(GO) test -run '^$$' -bench . -benchmem ./reconcile ./store ./fetch ./reports ./simulator ./state
	$(CLEANENV) $(GO) test -run '^$$' -bench . -benchtime 1x .

demo:
	$(GO) run -ldflags '$(LDFLAGS)' . demo

# The browser test renders the demo run's report.html in headless Chromium
# and saves PNGs of it: docs/report.png (the first screen, shown in the
# README) and docs/report-full.png (the whole page).
.PHONY: screenshot
screenshot:
	$(CLEANENV) $(GO) test -count=1 -run '^TestBrowser_Report$$/^Demo$$' . -args -screenshot $(CURDIR)/docs

clean:
	rm -rf bin out
