# waha-operator: the two commands a newcomer runs are `make demo` and `make test`.
BUILD_DIR ?= build
ASAN_DIR  ?= build-asan
JOBS      ?= $(shell nproc)
CMAKE_GEN := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CTEST_ARGS ?=

.PHONY: all deps build test unit demo bench lint format sanitize clean help

all: build

help:
	@echo "make demo      run the whole system locally (API emulator, WAHA simulators, operator)"
	@echo "make test      build and run every test (installs missing Debian packages first)"
	@echo "make build     configure and build into $(BUILD_DIR)/"
	@echo "make unit      unit tests only"
	@echo "make bench     benchmarks; results go to docs/benchmarks.md by hand"
	@echo "make lint      clang-format check"
	@echo "make sanitize  ASan+UBSan build running the unit tests"
	@echo "make deps      install missing Debian packages (apt-get; sudo when not root)"

deps:
	@scripts/deps.sh

$(BUILD_DIR)/build.ninja $(BUILD_DIR)/Makefile:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD_DIR)/$(if $(CMAKE_GEN),build.ninja,Makefile)
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

unit: deps build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS) -L unit $(CTEST_ARGS)

demo: deps build
	@scripts/demo.sh $(BUILD_DIR)

bench: deps build
	@scripts/deps.sh bench
	@scripts/bench.sh $(BUILD_DIR)
	@scripts/bench-hub.sh $(BUILD_DIR)

lint: deps
	@scripts/lint.sh

format:
	@scripts/lint.sh --fix

sanitize: deps
	cmake -S . -B $(ASAN_DIR) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Debug -DWAHA_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j $(JOBS)
	cd $(ASAN_DIR) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --output-on-failure -j $(JOBS) -L unit $(CTEST_ARGS)

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
