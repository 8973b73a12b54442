# Tenantdesk — `make run` starts the GUI, `make test` runs every check.
# Both install the system packages Fyne and the GUI smoke test need when
# they are missing (Debian/Ubuntu, as root or through sudo).

GO        ?= go
BIN       ?= bin/tenantdesk
DEB_PKGS  := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
             libxinerama-dev libxi-dev libxxf86vm-dev xvfb xauth dbus dbus-x11 imagemagick xdotool
# The Windows cross-build (SPEC §16): mingw-w64 for cgo, NSIS for the
# installer, osslsigncode for signing, Wine to run the tests and the smoke.
WIN_PKGS  := gcc-mingw-w64-x86-64 nsis osslsigncode wine wine64 curl openssl
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

ETCD_PKGS = etcd-server

.PHONY: all windows deps deps-etcd test-etcd-e2e deps-windows install-pkgs test-windows package-windows windows-smoke windows-sign-check build run test vet lint unit race fuzz gui-smoke bench package clean

all: build

deps:
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(DEB_PKGS)"

deps-windows:
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(WIN_PKGS)"

# Debian's etcd for the end-to-end cluster test (SPEC §14); no systemd: the
# test starts its three members itself.
deps-etcd:
	@$(MAKE) --no-print-directory install-pkgs PKGS="$(ETCD_PKGS)"

# test-etcd-e2e (part of make test): three Debian etcd members on loopback
# (store/etcdtest/cluster), each e2e on a cluster of its own, one after the
# other so that neither starves the other of the 2 cores: writers through
# the store with the leader SIGKILLed (store/e2e_etcd_test.go), then the
# built binary as three serve replicas under a webhook load, one replica
# and the leader SIGKILLed (tenant/cli/cluster_e2e_test.go). About 1 min.
# Their files build only under the etcde2e tag: vet and staticcheck them here.
E2E_PKGS := ./store/ ./store/etcdtest/... ./tenant/cli/
test-etcd-e2e: deps-etcd
	$(GO) vet -tags 'ci etcde2e' $(E2E_PKGS)
	$(GO) tool staticcheck -tags 'ci etcde2e' $(E2E_PKGS)
	$(GO) test -tags 'ci etcde2e' -count=1 -run '^TestE2E' -v ./store/
	$(GO) test -tags 'ci etcde2e' -count=1 -run '^TestE2E' -v ./tenant/cli/

# install-pkgs PKGS="…" installs the Debian packages of the list that are
# missing, and says which.
install-pkgs:
	@missing=""; for p in $(PKGS); do \
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

# Windows and macOS (SPEC §16) are vetted here too, cgo off on Fyne's
# software driver. macOS leaves out the packages that import Fyne: its
# internal/widget needs cgo against Apple's SDK on darwin, which this machine
# cannot have (DARWIN_PKGS: every package whose dependencies avoid it).
DARWIN_PKGS = $(shell GOOS=darwin $(GO) list -tags ci -f '{{.ImportPath}} {{join .Deps " "}}' ./... | \
                grep -v ' fyne.io/fyne/v2/internal/widget' | cut -d' ' -f1)
vet:
	$(GO) vet ./...
	$(GO) vet -tags ci ./...
	GOOS=windows CGO_ENABLED=0 $(GO) vet -tags ci ./...
	GOOS=darwin CGO_ENABLED=0 $(GO) vet -tags ci $(DARWIN_PKGS)
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

test: deps vet lint unit race fuzz gui-smoke windows test-etcd-e2e
	@echo "make test: all checks passed"

# --- Windows (SPEC §16) ----------------------------------------------------
# `make test` runs `windows`: the Windows tests under Wine, the installer
# built, and the installed app's smoke test under Wine and Xvfb. The
# cross-build takes about 5 min on 2 cores with a cold cache, 2 min warm.
windows: test-windows package-windows windows-smoke

WIN_OUT       := build/windows
# Packages with Windows code, and the tests of it that run under Wine.
WIN_TEST_PKGS := ./store/ ./tenant/admin/remote/ ./tenant/cli/
WIN_TEST_RUN  := ^TestWindows
WINE_ENV      := WINEDEBUG=-all WINEDLLOVERRIDES=mscoree,mshtml= WINEPREFIX=$(abspath $(WIN_OUT)/wine/prefix)

# Tenantdesk-Setup.exe at the repo root: a cgo cross-build with mingw-w64
# (about 5 min on 2 cores when the cache is cold), the console face, NSIS;
# signed with osslsigncode when WINDOWS_SIGN_CERT and WINDOWS_SIGN_KEY are set.
package-windows: deps-windows
	bash packaging/windows/build.sh

# Signing with a throwaway certificate, verified with osslsigncode (a
# package-windows run, about 2 min).
windows-sign-check: deps-windows
	bash .ci/windows-sign-check.sh

# The installed app under Wine and Xvfb (.ci/windows-smoke.sh);
# GUI_SMOKE_SHOT=FILE keeps its screenshot.
windows-smoke: deps deps-windows $(WIN_OUT)/wine/bcryptprimitives.dll
	bash .ci/windows-smoke.sh

# Wine 8 lacks ProcessPrng, which Go's runtime needs: a forwarder to
# RtlGenRandom for test prefixes (real Windows 10+ has it).
$(WIN_OUT)/wine/bcryptprimitives.dll: packaging/windows/wine/bcryptprimitives.c
	@mkdir -p $(@D)
	x86_64-w64-mingw32-gcc -shared -O2 -o $@ $< -ladvapi32

# A Wine prefix for the tests: made once, with the forwarder in system32.
$(WIN_OUT)/wine/prefix/.ready: $(WIN_OUT)/wine/bcryptprimitives.dll
	rm -rf $(@D) && mkdir -p $(@D)
	$(WINE_ENV) wine wineboot -i >/dev/null 2>&1
	cp $< $(@D)/drive_c/windows/system32/
	@touch $@

# The Windows tests under Wine (the pipe, file replacement), cgo off.
test-windows: deps-windows $(WIN_OUT)/wine/prefix/.ready
	$(WINE_ENV) GOOS=windows CGO_ENABLED=0 $(GO) test -count=1 -tags ci -exec wine -run '$(WIN_TEST_RUN)' $(WIN_TEST_PKGS)

# SPEC §11: each target's benchmark runs beside its baseline in the same run.
bench:
	@: > bench.txt
	$(GO) test -run '^$$' -bench 'Idmap|RawPut' -benchtime 2s -benchmem ./store/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'DurableSmallWrites|LargeWrite10k' -benchtime 1x -count 3 ./store/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'ConsumeVsBare|ConsumeHandler|BareRetrieve|HostileVsValid' -benchtime 200x -benchmem ./tenant/sso/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'Notification10k|RawPut10k' -benchtime 5x -benchmem ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'WebhookParallel|Metadata|Healthz' -benchmem ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'WebhookReplicas' -benchtime 2x ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'CachedAuthReadReplica' -benchtime 20000x ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BadCredentialFlood' -benchtime 5000x ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'SealedVsPlaintext$$' -benchtime 20000x ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'SealedVsPlaintextConsume' -benchtime 400x ./tenant/server/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'SessionCheck|RefusedConsume' ./tenant/sso/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'BillingRun10kGroups|BillingBaseline' -benchtime 1x ./tenant/billing/ | tee -a bench.txt
	$(GO) test -run '^$$' -bench 'Pull10kInvoices' -benchtime 2x ./tenant/connec/ | tee -a bench.txt
	$(GO) test -tags ci -run '^$$' -bench 'TenantList' -benchtime 200x -benchmem ./tenant/cli/ | tee -a bench.txt
	@echo "bench: results in bench.txt"

package: deps
	$(GO) tool fyne package -os linux -icon assets/icon.png -release
	@echo "package: built $$(ls -1 *.tar.xz 2>/dev/null)"

clean:
	rm -rf bin build bench.txt *.tar.xz Tenantdesk-Setup.exe
