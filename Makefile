# evstore - entry points. CMake does the building; this file is what people type.
#
#   make run        install missing packages, build, run the quick-start demo
#   make test       install missing packages, build with ASan+UBSan, run every test (and
#                   the concurrency tests again under ThreadSanitizer, and each fuzz target
#                   for FUZZ_TEST_SECONDS under clang's libFuzzer)
#   make build      release build only (build/release)
#   make bench      release build, then the benchmarks and the suite against SQLite,
#                   LMDB and PostgreSQL (QUICK=1 for a run under 2 minutes)
#   make install    install the release build (PREFIX=/usr/local)
#   make crash-test 10,000 crash trials (SIGKILLed writers), 1,000 of erasure, 500 kills
#                   of writers compressing sealed segments, 500 SIGKILLed backups and 500
#                   SIGKILLed archivings, 1,000 of the stream lifecycle and retention
#   make pg-skip-test the PostgreSQL skip test for PG_SKIP_SECONDS (default 600) instead of
#                   the 60 s of `make test`
#   make scale-test open + read one stream of a 1,000,000-stream store vs a 10-stream one
#   make tsan       ThreadSanitizer build, concurrency tests
#   make valgrind   memcheck over the core tests
#   make fuzz       libFuzzer (clang) on every fuzz target, FUZZ_SECONDS each (default 60)
#   make format     clang-format every source file
#   make lint       clang-tidy over the library and CLI

JOBS    ?= 2
PREFIX  ?= /usr/local
CMAKE   ?= cmake
GEN     := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

.PHONY: all run test build deps bench install crash-test pg-skip-test scale-test tsan tsan-build valgrind fuzz fuzz-build \
        format format-check lint clean

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

# Every test under ASan+UBSan (gcc), then the concurrency tests again under
# ThreadSanitizer, then each fuzz target for FUZZ_TEST_SECONDS under libFuzzer (clang,
# whose build of the library, the CLI and the fuzz targets also checks that clang
# compiles them without a warning); one summary line over all three.
FUZZ_TEST_SECONDS ?= 3

test: deps
	@[ -f build/asan/CMakeCache.txt ] || $(CMAKE) -S . -B build/asan $(GEN) \
	    -DCMAKE_BUILD_TYPE=Debug -DEVS_SANITIZE=address,undefined -DEVS_WERROR=ON \
	    -DCMAKE_C_FLAGS="-O1 -g"
	$(CMAKE) --build build/asan -j $(JOBS)
	@$(MAKE) --no-print-directory tsan-build
	@$(MAKE) --no-print-directory fuzz-build FUZZ_BUILD_EXTRA=evstore_cli
	./scripts/run-tests.sh --suites build/asan "build/tsan -L concurrency" \
	    "build/fuzz -L fuzz-run"

# The same trials `make test` runs 200 of, in the release build, 10,000 times; and the
# erasure trials (writers killed inside forgets) it runs 25 of, 1,000 times; and the
# 25 kills of compressing writers (tests/fault/test_compress.c) COMPRESS_TRIALS times; and
# the lifecycle's trials (backup, archive: 25 each per `make test`) LIFECYCLE_TRIALS times;
# and the stream lifecycle's and retention's (25 of each kind in `make test`) 1,000 times.
CRASH_TRIALS ?= 10000
ERASE_CRASH_TRIALS ?= 1000
COMPRESS_TRIALS ?= 500
LIFECYCLE_TRIALS ?= 500
LIFECYCLE_CRASH_TRIALS ?= 1000
crash-test: deps
	@[ -f build/crash/CMakeCache.txt ] || $(CMAKE) -S . -B build/crash $(GEN) \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVS_BUILD_BENCH=OFF
	$(CMAKE) --build build/crash -j $(JOBS) --target test_crash_trials test_erase_crash \
	    test_compress test_backup_crash test_archive_crash test_lifecycle_crash
	EVS_CRASH_TRIALS=$(CRASH_TRIALS) EVS_TEST_TMPDIR=$(CURDIR)/build/crash/tmp \
	    ./build/crash/tests/fault/test_crash_trials
	EVS_ERASE_CRASH_TRIALS=$(ERASE_CRASH_TRIALS) EVS_TEST_TMPDIR=$(CURDIR)/build/crash/tmp \
	    ./build/crash/tests/fault/test_erase_crash
	EVS_COMPRESS_TRIALS=$(COMPRESS_TRIALS) EVS_TEST_TMPDIR=$(CURDIR)/build/crash/tmp \
	    ./build/crash/tests/fault/test_compress
	EVS_BACKUP_CRASH_TRIALS=$(LIFECYCLE_TRIALS) EVS_TEST_TMPDIR=$(CURDIR)/build/crash/tmp \
	    ./build/crash/tests/fault/test_backup_crash
	EVS_ARCHIVE_CRASH_TRIALS=$(LIFECYCLE_TRIALS) EVS_TEST_TMPDIR=$(CURDIR)/build/crash/tmp \
	    ./build/crash/tests/fault/test_archive_crash
	EVS_LIFECYCLE_CRASH_TRIALS=$(LIFECYCLE_CRASH_TRIALS) EVS_TEST_TMPDIR=$(CURDIR)/build/crash/tmp \
	    ./build/crash/tests/fault/test_lifecycle_crash

# The skip test `make test` runs for 60 s (tests/pg/test_pg_skip.c), longer, in an
# optimised build, against a server of its own that is stopped by PID at the end.
PG_SKIP_SECONDS ?= 600
PG_SKIP_STATE := build/crash/tmp/pg-skip.state
pg-skip-test: deps
	@[ -f build/crash/CMakeCache.txt ] || $(CMAKE) -S . -B build/crash $(GEN) \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVS_BUILD_BENCH=OFF
	$(CMAKE) --build build/crash -j $(JOBS) --target test_pg_skip pg_server
	@mkdir -p build/crash/tmp
	./build/crash/tests/pg/pg_server start $(PG_SKIP_STATE)
	EVS_PG_SKIP_SECONDS=$(PG_SKIP_SECONDS) EVS_TEST_PG_STATE=$(PG_SKIP_STATE) \
	    EVS_TEST_TMPDIR=$(CURDIR)/build/crash/tmp ./build/crash/tests/pg/test_pg_skip; \
	    rc=$$?; ./build/crash/tests/pg/pg_server stop $(PG_SKIP_STATE); exit $$rc

# The many-streams test `make test` runs at 200,000 streams under the sanitizers, at
# 1,000,000 in an optimised build.
SCALE_STREAMS ?= 1000000
scale-test: deps
	@[ -f build/crash/CMakeCache.txt ] || $(CMAKE) -S . -B build/crash $(GEN) \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEVS_BUILD_BENCH=OFF
	$(CMAKE) --build build/crash -j $(JOBS) --target test_many_streams
	EVS_MANY_STREAMS=$(SCALE_STREAMS) EVS_TEST_TMPDIR=$(CURDIR)/build/crash/tmp \
	    ./build/crash/tests/unit/core/test_many_streams

tsan: deps tsan-build
	./scripts/run-tests.sh build/tsan -L concurrency

tsan-build:
	@[ -f build/tsan/CMakeCache.txt ] || $(CMAKE) -S . -B build/tsan $(GEN) \
	    -DCMAKE_BUILD_TYPE=Debug -DEVS_SANITIZE=thread -DEVS_WERROR=ON \
	    -DEVS_BUILD_BENCH=OFF -DCMAKE_C_FLAGS="-O1 -g"
	$(CMAKE) --build build/tsan -j $(JOBS)

# The wrapper is baked into each test's command when CMake runs (tests/CMakeLists.txt
# reads EVS_TEST_WRAPPER at configure time), so configure runs every time, with it set.
VALGRIND ?= valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite -q

valgrind: deps
	@./scripts/install-deps.sh scripts/deps-valgrind.txt
	EVS_TEST_WRAPPER="$(VALGRIND)" $(CMAKE) -S . -B build/valgrind $(GEN) \
	    -DCMAKE_BUILD_TYPE=Debug -DEVS_WERROR=ON -DCMAKE_C_FLAGS="-O1 -g"
	$(CMAKE) --build build/valgrind -j $(JOBS)
	./scripts/run-tests.sh build/valgrind -L unit

# The suite's peers (SQLite, LMDB, PostgreSQL) are installed here only, never by `make
# test`; CMake is re-run so that a peer installed just now gets its driver built. The
# stores (up to ~12 GB at once for the full run's 10 M-event stores) go under the build
# dir, in a directory each run removes when it ends.
BENCH_TMP := build/release/bench-tmp

bench: deps
	@./scripts/install-deps.sh scripts/deps-bench.txt
	$(CMAKE) -S . -B build/release $(GEN) -DCMAKE_BUILD_TYPE=Release \
	    -DCMAKE_INSTALL_PREFIX=$(PREFIX) -DEVS_BUILD_TESTS=OFF
	$(CMAKE) --build build/release -j $(JOBS)
	@mkdir -p $(BENCH_TMP)
	./build/release/bench/core/evs_bench_core --dir $(BENCH_TMP) $(if $(QUICK),--quick,)
	./build/release/bench/domain/evs_bench_domain --dir $(BENCH_TMP) $(if $(QUICK),--quick,)
	./build/release/bench/compress/evs_bench_compress --dir $(BENCH_TMP) $(if $(QUICK),--quick,)
	./build/release/bench/suite/evs_bench_suite --dir $(BENCH_TMP) $(if $(QUICK),--quick,)

# Each target starts from its committed corpus (fuzz/corpus/<target>, read only) plus
# what earlier runs found (build/fuzz/corpus/<target>, where new inputs go). Inputs that
# crash are copied to fuzz/crashes/: minimise them (-minimize_crash=1), add them to
# fuzz/corpus/<target>/ so `make test` replays them, and fix the bug.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_segment fuzz_json fuzz_record fuzz_import_ndjson fuzz_import_tiny \
                fuzz_import_eventlog fuzz_import_ses fuzz_cli_args fuzz_cache_idx fuzz_cache_sdx \
                fuzz_cache_tdx fuzz_cache_snap fuzz_cache_head fuzz_cache_ckpt fuzz_server_request \
                fuzz_keyfile fuzz_cache_zseg

# The clang build: libFuzzer binaries with ASan+UBSan, warnings as errors. Configured
# with the run time of the fuzz tests `make test` runs.
fuzz-build:
	@[ -f build/fuzz/CMakeCache.txt ] || CC=clang CXX=clang++ $(CMAKE) -S . -B build/fuzz \
	    $(GEN) -DCMAKE_BUILD_TYPE=Debug -DEVS_FUZZ=ON -DEVS_SANITIZE=address,undefined \
	    -DEVS_WERROR=ON -DEVS_BUILD_BENCH=OFF -DCMAKE_C_FLAGS="-O1 -g"
	$(CMAKE) -S . -B build/fuzz -DEVS_FUZZ_TEST_SECONDS=$(FUZZ_TEST_SECONDS) >/dev/null
	$(CMAKE) --build build/fuzz -j $(JOBS) --target $(FUZZ_TARGETS) $(FUZZ_BUILD_EXTRA)

fuzz: deps fuzz-build
	@mkdir -p fuzz/crashes; failed=""; \
	for t in $(FUZZ_TARGETS); do \
	    mkdir -p build/fuzz/corpus/$$t build/fuzz/artifacts/$$t; \
	    echo "== $$t: $(FUZZ_SECONDS) s"; \
	    ./build/fuzz/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 \
	        -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/$$t/ \
	        build/fuzz/corpus/$$t fuzz/corpus/$$t || failed="$$failed $$t"; \
	    for f in build/fuzz/artifacts/$$t/*; do \
	        [ -f "$$f" ] && cp -n "$$f" "fuzz/crashes/$$t-$${f##*/}"; \
	    done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: crashes in:$$failed (see fuzz/crashes/)"; exit 1; fi; \
	echo "fuzz: no crashes"

# The prefix is chosen here, at install time, not when build/release was configured.
install: build
	$(CMAKE) --install build/release --prefix $(PREFIX)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

lint: build
	clang-tidy -p build/release --quiet $$(git ls-files 'src/*.c' 'cli/*.c')

clean:
	rm -rf build
