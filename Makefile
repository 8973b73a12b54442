# Tenantdesk — `make run` starts the GUI, `make test` runs every check.
# Both install the system packages Fyne and the GUI smoke test need when
# they are missing (Debian/Ubuntu, as root or through sudo).

GO        ?= go
BIN       ?= bin/tenantdesk
DEB_PKGS  := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
             libxinerama-dev libxi-dev libxxf86vm-dev xvfb xauth dbus dbus-x11 imagemagick xdotool
# Packages whose code runs goroutines of its own: tested with the race detector
# (the GUI and main, which hands it to the CLI, on Fyne's software driver, -tags ci).
RACE_PKGS    := ./store/... ./tenant/...
RACE_CI_PKGS := . ./ui/...
# Every fuzz target of the repo as package:FuzzName, found by name so that a
# new target is never left out; `make fuzz` runs each for FUZZTIME.
# FUZZTIME is a count of executions, not a duration: with a duration, Go 1.26's
# fuzz coordinator can fail a target with a bare "context deadline exceeded"
# as the time runs out (go.dev/issue/75804, fixed in Go 1.27). 20000 runs of
# every target take about a minute here.
FUZZ_TARGETS := $(shell grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | \
                  sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)$$|\1:\2|' | sort -u)
FUZZTIME     ?= 20000x
export LANG := en_US.UTF-8

.PHONY: all deps build run test vet lint unit race fuzz gui-smoke bench package clean

all: build

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then echo "deps: system packages present"; exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "deps: please install:$$missing" >&2; exit 1; fi; \
	SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO=sudo; \
	echo "deps: installing:$$missing"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing

build: deps
	CGO_ENABLED=1 $(GO) build -o $(BIN) .

run: build
	./$(BIN)

vet:
	$(GO) vet ./...
	$(GO) vet -tags ci ./...
	@fmt=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$fmt" ]; then echo "gofmt needed: $$fmt" >&2; exit 1; fi

# staticcheck is pinned as a tool in go.mod: nothing to install by hand.
lint:
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags ci ./...

unit:
	$(GO) test -count=1 ./...

race:
	$(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 -race -tags ci $(RACE_CI_PKGS)

# One `go test -fuzz` per target (Go fuzzes one target at a time), on
# Fyne's software driver so that no target needs cgo.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
	  $(GO) test -tags ci -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

gui-smoke: build
	bash .ci/gui-smoke.sh $(BIN)

test: deps vet lint unit race fuzz gui-smoke
	@echo "make test: all checks passed"

# SPEC §11: each target's benchmark runs beside its baseline in the same run.
bench:
	@: > bench.txt
	$(GO) test -run '^$$' -bench 'Idmap|RawPut' -benchtime 2s -benchmem ./store/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'ConsumeVsBare|ConsumeHandler|BareRetrieve|HostileVsValid' -benchtime 200x -benchmem ./tenant/sso/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'Notification10k|RawPut10k' -benchtime 5x -benchmem ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'WebhookParallel|Metadata|Healthz' -benchmem ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BadCredentialFlood' -benchtime 5000x ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'SessionCheck|RefusedConsume' ./tenant/sso/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BillingRun10kGroups|BillingBaseline' -benchtime 1x ./tenant/billing/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'Pull10kInvoices' -benchtime 2x ./tenant/connec/ | tee -a bench.txt
	$(GO) test -tags ci -run '^$$' -bench 'TenantList' -benchtime 200x -benchmem ./tenant/cli/ | tee -a bench.txt
	@echo "bench: results in bench.txt"

package: deps
	$(GO) tool fyne package -os linux -icon assets/icon.png -release
	@echo "package: built $$(ls -1 *.tar.xz 2>/dev/null)"

clean:
	rm -rf bin bench.txt *.tar.xz
