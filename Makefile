# evstore - entry points. CMake does the building; this file is what people type.
#
#   make run        install missing packages, build, run the quick-start demo
#   make test       install missing packages, build with ASan+UBSan, run every test
#   make build      release build only (build/release)
#   make bench      release build, then the benchmarks (QUICK=1 for a short run)
#   make install    install the release build (PREFIX=/usr/local)
#   make tsan       ThreadSanitizer build, concurrency tests
#   make valgrind   memcheck over the core tests
#   make format     clang-format every source file
#   make lint       clang-tidy over the library and CLI

JOBS    ?= 2
PREFIX  ?= /usr/local
CMAKE   ?= cmake
GEN     := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all run test build deps bench install tsan valgrind format format-check lint clean

all: build

deps:
	@./scripts/install-deps.sh

build/release/build.ninja build/release/Makefile:
	$(CMAKE) -S . -B build/release $(GEN) -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DEVS_BUILD_TESTS=OFF

build: deps
	@[ -f build/release/CMakeCache.txt ] || $(CMAKE) -S . -B build/release $(GEN) \
	    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DEVS_BUILD_TESTS=OFF
	$(CMAKE) --build build/release -j $(JOBS)

run: build
	./scripts/quickstart.sh build/release/cli/evstore ./data

test: deps
	@[ -f build/asan/CMakeCache.txt ] || $(CMAKE) -S . -B build/asan $(GEN) \
	    -DCMAKE_BUILD_TYPE=Debug -DEVS_SANITIZE=address,undefined -DEVS_WERROR=ON \
	    -DCMAKE_C_FLAGS="-O1 -g"
	$(CMAKE) --build build/asan -j $(JOBS)
	./scripts/run-tests.sh build/asan

tsan: deps
	@[ -f build/tsan/CMakeCache.txt ] || $(CMAKE) -S . -B build/tsan $(GEN) \
	    -DCMAKE_BUILD_TYPE=Debug -DEVS_SANITIZE=thread -DEVS_WERROR=ON \
	    -DCMAKE_C_FLAGS="-O1 -g"
	$(CMAKE) --build build/tsan -j $(JOBS)
	./scripts/run-tests.sh build/tsan -L concurrency

valgrind: deps
	@[ -f build/valgrind/CMakeCache.txt ] || $(CMAKE) -S . -B build/valgrind $(GEN) \
	    -DCMAKE_BUILD_TYPE=Debug -DEVS_WERROR=ON -DCMAKE_C_FLAGS="-O1 -g"
	$(CMAKE) --build build/valgrind -j $(JOBS)
	EVS_TEST_WRAPPER="valgrind --error-exitcode=99 --leak-check=full -q" \
	    ./scripts/run-tests.sh build/valgrind -L unit

bench: build
	@[ -f build/release/bench/evs_bench ] || $(CMAKE) --build build/release -j $(JOBS)
	./build/release/bench/evs_bench $(if $(QUICK),--quick,)

install: build
	$(CMAKE) --install build/release

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

lint: build
	clang-tidy -p build/release --quiet $$(git ls-files 'src/*.c' 'cli/*.c')

clean:
	rm -rf build
