# Berth: the two set-up commands are `make run` and `make test` (README.md).
SHELL := /bin/bash
BUILD ?= build
PRESET ?= dev
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60

# Every Debian package Berth needs to build, run and test; nothing is fetched from elsewhere.
# libnftables-dev is built into berth-nft only (GPL-2.0, src/nft_helper), never into berthd.
DEB_PACKAGES := build-essential cmake ninja-build g++ clang pkg-config \
  libboost-dev libboost-system-dev nlohmann-json3-dev libabsl-dev libcli11-dev libspdlog-dev \
  libfmt-dev libsqlite3-dev libmnl-dev libnftables-dev libssl-dev zlib1g-dev \
  libgtest-dev libgmock-dev libbenchmark-dev bats libclang-rt-14-dev \
  runc tini nftables iproute2 busybox-static procps iputils-ping curl jq bsdutils util-linux \
  python3-minimal python3 hyperfine iperf3 wrk etcd-server openssl docker-compose \
  docker-registry apache2-utils libzstd-dev

.PHONY: deps build run test unit privileged e2e bench asan tsan fuzz-build fuzz clean

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v docker >/dev/null || echo "note: the official docker CLI is not installed; e2e tests that drive it will be skipped"

build:
	cmake --preset $(PRESET) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

run: deps build
	$(BUILD)/bin/berthd

# Tests run side by side (TEST_JOBS at once): most of an e2e file's time is spent waiting on
# heartbeats, sleeps and timeouts, not computing. The fuzz build (clang, libFuzzer, only the
# libraries the targets exercise) runs meanwhile at the lowest CPU priority, so it takes only the
# CPU the tests leave idle; ctest's short fuzz pass (label fuzz, BERTH_FUZZ_SECONDS each) comes
# once it is built.
TEST_JOBS ?= 4
test: deps build
	@cmake --preset fuzz >/dev/null
	@nice -n 19 cmake --build build-fuzz --target fuzzers -j $(JOBS) >build-fuzz/build.log 2>&1 </dev/null & \
	fuzz=$$!; rc=0; \
	(cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS) -LE fuzz) || rc=1; \
	if wait $$fuzz; then \
	  (cd $(BUILD) && ctest --output-on-failure -L fuzz) || rc=1; \
	else \
	  tail -n 40 build-fuzz/build.log; echo "the fuzz build failed: build-fuzz/build.log"; rc=1; \
	fi; \
	exit $$rc

unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit

privileged: build
	cd $(BUILD) && ctest --output-on-failure -L privileged

e2e: build
	cd $(BUILD) && ctest --output-on-failure -j $(TEST_JOBS) -L e2e

asan:
	cmake --preset asan >/dev/null
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -L unit

# ThreadSanitizer (clang): the unit and privileged tests, which drive the threads directly.
tsan:
	cmake --preset tsan >/dev/null
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && LD_PRELOAD=$$PWD/bin/libberth_tsan_absl.so TSAN_OPTIONS=halt_on_error=1 \
	  ctest --output-on-failure -L 'unit|privileged'

fuzz-build:
	cmake --preset fuzz >/dev/null
	cmake --build build-fuzz --target fuzzers -j $(JOBS)

# Each target for FUZZ_SECONDS (default 60) on its seeds, one after another; the grown corpus and
# any crash reproducer stay in build-fuzz/work (test/fuzz/README.md).
fuzz: deps fuzz-build
	@for f in build-fuzz/bin/*_fuzz; do test/fuzz/run.sh $$f $(FUZZ_SECONDS) || exit 1; done

bench: deps build
	cmake --build $(BUILD) -j $(JOBS) --target benches
	bench/run.sh $(BUILD)/bin

clean:
	rm -rf build build-gcc build-asan build-tsan build-fuzz
