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
	$(CLEANENV) $(GO) test -count=1 -run 'TestImportGraph|TestMainIsWiring' .
	$(GO) mod tidy -diff

# Every Fuzz function of every package, found by go test -list (a new one
# needs no edit here), each fuzzed for $(FUZZTIME); its seed corpus is in
# the package's testdata/fuzz/FuzzX/. What a fuzzer finds is written there
# too: turn it into a regular test case and fix it.
FUZZTIME ?= 30s
# Minimizing each new interesting input may take 60s by default, which
# outlasts a short FUZZTIME and ends the run with "context deadline
# exceeded" (FuzzCSV's inputs are slow to minimize): keep it short.
FUZZMINIMIZETIME ?= 1s

fuzz:
	$(CLEANENV) GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) .ci/fuzz

# Package benchmarks run for the usual second each; the end-to-end ones in
# the root package (rate at and above the limit, unlimited throughput, 1M-row
# peak memory) run once each: a single run takes from 10 s to a minute.
bench:
	$(CLEANENV) $(GO) test -run '^$$' -bench . -benchmem ./reconcile ./store ./fetch ./reports ./simulator ./state ./job
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

# --- Container image (README, "Container image") ---------------------------
# make static: a fully static Linux binary. cgo stays on for go-sqlite3 and
# is linked statically; the netgo and osusergo tags keep glibc's NSS (which
# dlopens at run time) out, sqlite_omit_load_extension SQLite's dlopen.
# make image: the FROM scratch image of Containerfile, with buildah when it
# is installed, else docker; the context is staged in bin/image/.
STATIC        := bin/unico-reconcile-static
STATIC_TAGS   := netgo,osusergo,sqlite_omit_load_extension
IMAGE_REPO    ?= unico-reconcile
IMAGE         ?= $(IMAGE_REPO):$(VERSION)
IMAGE_SOURCE  ?= https://github.com/unico-reconcile/unico-reconcile
IMAGE_LICENSE ?= NOASSERTION
CA_BUNDLE     ?= /etc/ssl/certs/ca-certificates.crt
IMAGE_TOOL    ?= $(or $(shell command -v buildah 2>/dev/null),$(shell command -v docker 2>/dev/null))
# Global flags of buildah, e.g. --storage-driver vfs (.ci/image-check).
BUILDAH_FLAGS ?=
IMAGE_ARGS    := --build-arg VERSION=$(VERSION) --build-arg REVISION=$(COMMIT) \
	--build-arg SOURCE=$(IMAGE_SOURCE) --build-arg LICENSE=$(IMAGE_LICENSE)

.PHONY: static image image-check

static:
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(STATIC_TAGS)' \
		-ldflags "$(LDFLAGS) -s -w -linkmode external -extldflags '-static'" -o $(STATIC) .

image: static
	@[ -n "$(IMAGE_TOOL)" ] || { echo "make image needs buildah (apt-get install buildah) or docker" >&2; exit 1; }
	rm -rf bin/image
	mkdir -p bin/image/tmp
	chmod 1777 bin/image/tmp
	tar -C bin/image --owner=0 --group=0 --numeric-owner -cf bin/image/tmp.tar tmp
	cp $(STATIC) bin/image/unico-reconcile
	cp $(CA_BUNDLE) bin/image/ca-certificates.crt
	cp deploy/image/passwd deploy/image/group bin/image/
	case "$(notdir $(IMAGE_TOOL))" in \
	buildah) $(IMAGE_TOOL) $(BUILDAH_FLAGS) bud -f Containerfile $(IMAGE_ARGS) -t $(IMAGE) bin/image ;; \
	*) $(IMAGE_TOOL) build -f Containerfile $(IMAGE_ARGS) -t $(IMAGE) bin/image ;; \
	esac
	@echo "image $(IMAGE)"

# Builds the image and runs version and demo inside it (chroot as 65532):
# what CI does after make test. Needs buildah and root.
image-check:
	.ci/image-check
