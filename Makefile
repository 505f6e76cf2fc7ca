# fjord: convenience targets around CMake + Ninja. `make test` is what CI runs.

BUILD_DIR      := build
ASAN_BUILD_DIR := build-asan
FORMAT_DIRS    := src sim tests bench

# Environment for every cmake / ctest invocation.
export CCACHE_SLOPPINESS := pch_defines,time_macros
export CCACHE_BASEDIR    := $(CURDIR)
export CCACHE_NOHASHDIR  := 1
export ASAN_OPTIONS      := detect_leaks=1
export UBSAN_OPTIONS     := print_stacktrace=1

.PHONY: all deps build build-asan test run bench format clean

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

# Tests labelled `slow` are skipped under sanitizers.
test: build build-asan
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j2
	ctest --test-dir $(ASAN_BUILD_DIR) --output-on-failure -j2 -LE slow

run: build
	./$(BUILD_DIR)/fjord-sim --demo

bench: build
	./$(BUILD_DIR)/fjord-bench-raft

format:
	find $(FORMAT_DIRS) -type f \( -name '*.h' -o -name '*.cc' \) -print0 2>/dev/null | \
		xargs -0 -r clang-format -i

clean:
	rm -rf $(BUILD_DIR) $(ASAN_BUILD_DIR)
