# fjord: convenience targets around CMake + Ninja. `make test` is what CI runs.

BUILD_DIR      := build
ASAN_BUILD_DIR := build-asan
TSAN_BUILD_DIR := build-tsan
FUZZ_BUILD_DIR := build-fuzz
FUZZ_TARGET    := fjord-fuzz-segment-recovery
FUZZ_SECONDS   ?= 300
FORMAT_DIRS    := src sim tests bench fuzz

# Environment for every cmake / ctest invocation.
export CCACHE_SLOPPINESS := pch_defines,time_macros
export CCACHE_BASEDIR    := $(CURDIR)
export CCACHE_NOHASHDIR  := 1
export ASAN_OPTIONS      := detect_leaks=1
export UBSAN_OPTIONS     := print_stacktrace=1

.PHONY: all deps build build-asan build-tsan build-fuzz test fuzz run demo bench bench-redis format clean

all: build

deps:
	./scripts/install-deps

build: deps
	@test -f $(BUILD_DIR)/build.ninja || \
		cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_DIR)

build-asan: deps
	@test -f $(ASAN_BUILD_DIR)/build.ninja || \
		cmake -S . -B $(ASAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			'-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g' -DFJORD_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD_DIR)

# ThreadSanitizer where threads meet: the Flusher's fsync threads and the
# owner's loop (group commit; a replica's snapshot synced and compacted off
# the loop). The rest of fjord runs on one thread per node.
build-tsan: deps
	@test -f $(TSAN_BUILD_DIR)/build.ninja || \
		cmake -S . -B $(TSAN_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
			'-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g' -DFJORD_SANITIZE=thread
	cmake --build $(TSAN_BUILD_DIR) --target fjord-storage-tests fjord-cluster-tests

# libFuzzer needs clang (g++ has no -fsanitize=fuzzer): a tree of its own that
# builds the fuzz targets only.
build-fuzz: deps
	@test -f $(FUZZ_BUILD_DIR)/build.ninja || \
		CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFJORD_FUZZ=ON
	cmake --build $(FUZZ_BUILD_DIR) --target $(FUZZ_TARGET)

# Tests labelled `slow` are skipped under ASan; group commit and replica snapshots run under TSan. Then a 20 s fuzz run from
# freshly generated seeds (plus fuzz/corpus/), in a temp dir: the repo is not
# modified. A crashing input is kept in $(FUZZ_BUILD_DIR)/artifacts/.
test: build build-asan
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2
	ctest --test-dir $(ASAN_BUILD_DIR) --output-on-failure -j2 -LE slow
	$(MAKE) --no-print-directory build-tsan
	TSAN_OPTIONS=halt_on_error=1 ./$(TSAN_BUILD_DIR)/fjord-storage-tests --gtest_filter='GroupCommit*' --gtest_brief=1
	TSAN_OPTIONS=halt_on_error=1 ./$(TSAN_BUILD_DIR)/fjord-cluster-tests --gtest_filter='ReplicaSnapshot*' --gtest_brief=1
	$(MAKE) --no-print-directory build-fuzz
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir -p $(FUZZ_BUILD_DIR)/artifacts && \
	./$(FUZZ_BUILD_DIR)/$(FUZZ_TARGET) --write-seeds=$$tmp/corpus 2>/dev/null && \
	if [ -d fuzz/corpus/segment_recovery ]; then cp -r fuzz/corpus/segment_recovery/. $$tmp/corpus/; fi && \
	echo "fuzz: $(FUZZ_TARGET) for 20 s (log: $(FUZZ_BUILD_DIR)/fuzz-test.log)" && \
	if ./$(FUZZ_BUILD_DIR)/$(FUZZ_TARGET) -max_total_time=20 -timeout=10 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_BUILD_DIR)/artifacts/ $$tmp/corpus >$(FUZZ_BUILD_DIR)/fuzz-test.log 2>&1; then \
		grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb))' $(FUZZ_BUILD_DIR)/fuzz-test.log; \
		echo "fuzz: 1 passed, 0 failed"; \
	else \
		tail -n 60 $(FUZZ_BUILD_DIR)/fuzz-test.log; echo "fuzz: 0 passed, 1 failed"; exit 1; \
	fi

# A longer fuzz run (FUZZ_SECONDS, default 300). The corpus grows in
# $(FUZZ_BUILD_DIR)/corpus/ (fuzz/corpus/ is only read); crashes go to
# $(FUZZ_BUILD_DIR)/artifacts/.
fuzz: build-fuzz
	mkdir -p $(FUZZ_BUILD_DIR)/corpus/segment_recovery $(FUZZ_BUILD_DIR)/artifacts
	./$(FUZZ_BUILD_DIR)/$(FUZZ_TARGET) --write-seeds=$(FUZZ_BUILD_DIR)/corpus/segment_recovery
	./$(FUZZ_BUILD_DIR)/$(FUZZ_TARGET) -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_BUILD_DIR)/artifacts/ $(FUZZ_BUILD_DIR)/corpus/segment_recovery \
		$(wildcard fuzz/corpus/segment_recovery)

# A local 3-node cluster: node 1 is Kafka 9092, RPC 9093, admin 9094, Redis
# 9095; node i adds 10*(i-1). Data persists in $(RUN_DATA_DIR) across runs.
RUN_DATA_DIR ?= $(BUILD_DIR)/dev-cluster
run: build
	./$(BUILD_DIR)/fjord dev-cluster --nodes 3 --base-port 9092 --data-dir $(RUN_DATA_DIR)

# The narrated simulator run: a 5-node cluster under faults, one at a time.
demo: build
	./$(BUILD_DIR)/fjord-sim --demo

bench: build
	./$(BUILD_DIR)/fjord-bench-raft
	./$(BUILD_DIR)/fjord-bench-storage

# fjord's Redis face against Redis 7 with two replicas (needs Debian's redis-server).
bench-redis: build
	@command -v redis-server >/dev/null || ./scripts/install-deps redis-server
	/usr/bin/python3 bench/redis_compare.py --fjord $(BUILD_DIR)/fjord --runs 3

format:
	find $(FORMAT_DIRS) -type f \( -name '*.h' -o -name '*.cc' \) -print0 2>/dev/null | \
		xargs -0 -r clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR) $(TSAN_BUILD_DIR) $(FUZZ_BUILD_DIR)
