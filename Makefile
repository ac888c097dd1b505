# Front end to the CMake build. Every target installs the missing Debian
# packages first (scripts/install-deps), so a fresh Debian 12 machine needs
# nothing else.
BUILD   ?= build
JOBS    ?= 2
FUZZ_SECONDS ?= 600
FUZZ_CHECK_SECONDS ?= 20
CMAKE_FLAGS ?=
PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all deps build check test demo bench fuzz fuzz-build soak-faults soak-crash install deb clean format format-check

all: build

deps:
	@scripts/install-deps --dev

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The whole suite with -Werror, then again under ASan+UBSan, then every
# fuzz target for 20 s (built with clang, -Werror too).
check: deps format-check
	@cmake -S . -B build-check -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOCSYNC_WERROR=ON >/dev/null
	@cmake --build build-check -j$(JOBS)
	@cd build-check && ctest --output-on-failure -j$(JOBS)
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DIOCSYNC_WERROR=ON -DIOCSYNC_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && IOCSYNC_NO_VALGRIND=1 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run.sh build-fuzz $(FUZZ_CHECK_SECONDS)

test: check

# The C sources as .clang-format writes them: `make format` rewrites them,
# `make check` fails on any difference and names the file.
FORMAT_FILES = $(wildcard src/*.[ch] emu/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch] tests/seccomp/*.[ch])
format: deps
	@clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run -Werror $(FORMAT_FILES)

# The main job on the bundled emulator and sample feeds: plan, sync, sync
# again (no write), status and list against a local mde-emulator.
demo: build
	@scripts/demo.sh $(BUILD)

bench: build
	@bench/parse.sh $(BUILD)/iocsync
	@echo; echo "== mde-emulator throughput (bench/emulator.py)"
	@python3 bench/emulator.py $(BUILD)/mde-emulator
	@echo; echo "== sync: calls and time to converge, against one POST per indicator (bench/sync.py)"
	@python3 bench/sync.py $(BUILD)/iocsync $(BUILD)/mde-emulator
	@echo; echo "== plan's memory on a 228 MB feed, against sort -u (bench/plan_memory.sh)"
	@bench/plan_memory.sh $(BUILD)/iocsync $(BUILD)/mde-emulator
	@echo; echo "== many tenants in one process, against one tenant (bench/tenants.py, about 2 minutes)"
	@python3 bench/tenants.py $(BUILD)/iocsync $(BUILD)/mde-emulator

# The long soaks (make check runs 5 and 3 of each): 100 runs under faults,
# 50 runs killed at random, each checked for convergence.
soak-faults: build
	@IOCSYNC_SOAK_RUNS=$${RUNS:-100} python3 tests/integration/sync.py $(BUILD)/iocsync $(BUILD)/mde-emulator fault_soak

soak-crash: build
	@IOCSYNC_CRASH_RUNS=$${RUNS:-50} python3 tests/integration/sync.py $(BUILD)/iocsync $(BUILD)/mde-emulator crash_soak

# Every fuzz target for FUZZ_SECONDS (default 10 minutes) each, two at a
# time; a table of execs and findings per target at the end.
fuzz: deps fuzz-build
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

fuzz-build:
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOCSYNC_FUZZ=ON \
		-DIOCSYNC_TESTS=OFF -DIOCSYNC_WERROR=ON >/dev/null
	@cmake --build build-fuzz -j$(JOBS)

# make install [PREFIX=/usr] [DESTDIR=/tmp/stage]: binaries, man pages,
# example configurations, systemd units and the logrotate snippet. Only
# the compiler and the libraries' -dev packages are installed for it (no
# test tools on a production host), and the test suite is not built.
install:
	@scripts/install-deps
	@cmake -S . -B build-install -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOCSYNC_TESTS=OFF \
		-DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_FLAGS) >/dev/null
	@cmake --build build-install -j$(JOBS)
	@DESTDIR=$(DESTDIR) cmake --install build-install

# make deb: build-deb/iocsync_VERSION_ARCH.deb and mde-emulator_..., built
# with dpkg-buildpackage from debian/ and checked by lintian (no error).
deb:
	@scripts/install-deps --deb
	@JOBS=$(JOBS) scripts/make-deb build-deb

clean:
	rm -rf build build-check build-asan build-fuzz build-install build-deb
