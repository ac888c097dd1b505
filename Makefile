# Front end to the CMake build. Every target installs the missing Debian
# packages first (scripts/install-deps), so a fresh Debian 12 machine needs
# nothing else.
BUILD   ?= build
JOBS    ?= 2
FUZZ_SECONDS ?= 600
CMAKE_FLAGS ?=

.PHONY: all deps build check test demo bench fuzz install clean

all: build

deps:
	@scripts/install-deps --dev

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The whole suite with -Werror, then again under ASan+UBSan.
check: deps
	@cmake -S . -B build-check -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOCSYNC_WERROR=ON >/dev/null
	@cmake --build build-check -j$(JOBS)
	@cd build-check && ctest --output-on-failure -j$(JOBS)
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DIOCSYNC_WERROR=ON -DIOCSYNC_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)
	@cd build-asan && IOCSYNC_NO_VALGRIND=1 ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j$(JOBS)

test: check

# The main job on the bundled sample feeds. Until the MDE emulator and
# sync exist this runs `iocsync feeds` (fetch, parse, classify, policy,
# merge) over them, then `iocsync check` on one file line by line.
demo: build
	@sed -e 's|@EXAMPLES@|$(CURDIR)/examples|g' -e 's|@BUILD@|$(CURDIR)/$(BUILD)|g' \
		examples/demo.conf >$(BUILD)/demo.conf
	@echo "== iocsync -c $(BUILD)/demo.conf config --check"
	@$(BUILD)/iocsync -c $(BUILD)/demo.conf config --check
	@echo; echo "== iocsync check examples/feeds/c2-ips.txt (offline, line by line)"
	@$(BUILD)/iocsync check examples/feeds/c2-ips.txt
	@echo; echo "== iocsync -c $(BUILD)/demo.conf feeds (fetch every feed, report on each)"
	@$(BUILD)/iocsync -c $(BUILD)/demo.conf feeds

bench: build
	@bench/parse.sh $(BUILD)/iocsync
	@echo; echo "== mde-emulator throughput (bench/emulator.py)"
	@python3 bench/emulator.py $(BUILD)/mde-emulator
	@echo; echo "== sync: calls and time to converge, against one POST per indicator (bench/sync.py)"
	@python3 bench/sync.py $(BUILD)/iocsync $(BUILD)/mde-emulator

fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOCSYNC_FUZZ=ON \
		-DIOCSYNC_TESTS=OFF >/dev/null
	@cmake --build build-fuzz -j$(JOBS)
	@tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

install: build
	@cmake --install $(BUILD)

clean:
	rm -rf build build-check build-asan build-fuzz
