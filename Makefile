# raftq build. `make` installs missing Debian packages, generates the
# protobuf-c code from proto/ and builds everything into build/.
# Sources are found by wildcard: a new src/<layer>/*.c joins its library, a new
# tests/unit/<layer>/test_*.c becomes a unit test binary, without editing this file.
# src/raft/ builds alone into libraftcore.a: the simulator links only that and
# protobuf-c, and check-purity refuses any I/O symbol in it.

BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
SANITIZE  ?=
PYTHON    ?= /usr/bin/python3
SIM_RUNS  ?= 3000
VERSION   ?= 0.1.0

PACKAGES  := libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler \
             libcmocka-dev libjansson-dev libsodium-dev libmicrohttpd-dev python3-zmq pkg-config \
             clang-format
# What the browser tests (tests/integration/test_gateway*.py) drive: `make
# test-deps` installs what is missing of them.
TEST_PACKAGES := chromium chromium-driver python3-selenium
PKGS      := libzmq libczmq libprotobuf-c jansson libsodium libmicrohttpd

CC        ?= cc
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -fno-omit-frame-pointer
ifneq ($(SANITIZE),)
CFLAGS    += -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
endif
GEN       := $(BUILD)/gen
CPPFLAGS  += -I$(GEN) -Isrc -Iinclude -Itests/support -Itests/unit/support
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS    += $(PKG_LIBS) -lpthread -lm

PROTOS    := $(wildcard proto/*.proto)
PROTO_C   := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H   := $(PROTO_C:.c=.h)
PROTO_O   := $(PROTO_C:.c=.o)

# The pure Raft core: its own library, no I/O (check-purity).
RAFT_SRC   := $(wildcard src/raft/*.c)
RAFT_O     := $(patsubst %.c,$(BUILD)/%.o,$(RAFT_SRC)) $(GEN)/raft.pb-c.o
RAFT_LIB   := $(BUILD)/libraftcore.a
# ONLY="src/a/b.c ..." limits the broker library to those sources (handy
# while other modules are mid-edit in a shared tree).
ONLY       ?=
BROKER_SRC := $(if $(ONLY),$(ONLY),$(filter-out src/broker/raftqd.c src/raft/%,$(wildcard src/*/*.c)))
BROKER_O   := $(patsubst %.c,$(BUILD)/%.o,$(BROKER_SRC))
BROKER_LIB := $(BUILD)/libraftqd.a

CLIENT_SRC := $(wildcard clients/libraftq/*.c)
CLIENT_O   := $(patsubst %.c,$(BUILD)/%.o,$(CLIENT_SRC))
CLIENT_LIB := $(BUILD)/libraftq.a
CLI_SRC    := $(wildcard clients/cli/*.c)
BENCH_SRC  := $(wildcard tools/bench/*.c)

# tests/support: helpers any test program may link (fuzz targets too, so no
# cmocka); tests/unit/support: fixtures that assert with cmocka.
TEST_SUPPORT_O := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/support/*.c tests/unit/support/*.c))
UNIT_SRC   := $(wildcard tests/unit/*/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/bin/%,$(UNIT_SRC))
SIM_SRC    := $(wildcard tests/sim/*.c)
SIM_BIN    := $(BUILD)/tests/raft_sim

# The fan-out floor: a bare libzmq XPUB, for what the machine allows (tools/bench/floor)
FLOOR_O    := $(BUILD)/tools/bench/floor/xpub_floor.o $(BUILD)/tools/bench/fanout_subscribers.o \
              $(BUILD)/tools/bench/histogram.o

# raftq-gateway: the web pages of clients/gateway/web/ are compiled in as
# a table (embed_assets.py), so the binary serves no file from disk.
GATEWAY_SRC := $(wildcard clients/gateway/*.c)
GATEWAY_WEB := $(wildcard clients/gateway/web/*)
GATEWAY_O   := $(patsubst %.c,$(BUILD)/%.o,$(GATEWAY_SRC)) $(GEN)/gateway_assets.o
# Its modules without main and the pages, for its unit tests (tests/unit/gateway)
GATEWAY_LIB := $(BUILD)/libgateway.a
# The pieces of src/util it shares with the brokers (endpoint text, the
# key file made as the brokers make their secrets)
GATEWAY_UTIL_O := $(patsubst %,$(BUILD)/src/util/%.o,endpoint secret_file file_io)

BINS := $(BUILD)/raftqd $(if $(CLI_SRC),$(BUILD)/raftq) $(if $(BENCH_SRC),$(BUILD)/raftq-bench $(BUILD)/xpub_floor $(BUILD)/path_floor) \
        $(if $(GATEWAY_SRC),$(BUILD)/raftq-gateway)

DEPS_STAMP := $(BUILD)/.deps-ok

# Keep generated sources and objects: they are intermediates to make, not to us.
.SECONDARY:

.PHONY: all deps test unit sim integration run bench bench-compare install uninstall clean format check-format check-purity asan valgrind
all: $(DEPS_STAMP) $(BINS) $(UNIT_BIN) $(if $(SIM_SRC),$(SIM_BIN))

# Installs only what is missing; apt-get needs root (CI and the dev machines are).
$(DEPS_STAMP):
	@mkdir -p $(BUILD)
	@if pkg-config --exists $(PKGS) cmocka && command -v protoc-c >/dev/null \
	    && $(PYTHON) -c 'import zmq' 2>/dev/null && command -v clang-format >/dev/null; then :; else \
	  echo "installing build dependencies: $(PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(PACKAGES) >/dev/null; \
	fi
	@touch $@
deps: $(DEPS_STAMP)

.PHONY: test-deps
test-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	    && $(PYTHON) -c 'import selenium' 2>/dev/null || { \
	  echo "installing test dependencies: $(TEST_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_PACKAGES) >/dev/null; }

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto | $(DEPS_STAMP)
	@mkdir -p $(GEN)
	protoc-c --proto_path=proto --c_out=$(GEN) $<

# Generated code is not ours to warn about: -Werror stays off for it alone.
$(GEN)/%.pb-c.o: $(GEN)/%.pb-c.c $(PROTO_H)
	$(CC) $(filter-out -Werror,$(CFLAGS)) $(CPPFLAGS) $(PKG_CFLAGS) -fPIC -c $< -o $@

$(BUILD)/%.o: %.c $(PROTO_H) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(RAFT_LIB): $(RAFT_O)
	$(AR) rcs $@ $^

$(BROKER_LIB): $(BROKER_O) $(PROTO_O) $(patsubst %.c,$(BUILD)/%.o,$(RAFT_SRC))
	$(AR) rcs $@ $^

$(CLIENT_LIB): $(CLIENT_O) $(GEN)/raftq.pb-c.o
	$(AR) rcs $@ $^

$(BUILD)/raftqd: $(BUILD)/src/broker/raftqd.o $(BROKER_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/raftq: $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC)) $(CLIENT_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(GEN)/gateway_assets.c: $(GATEWAY_WEB) clients/gateway/embed_assets.py | $(DEPS_STAMP)
	@mkdir -p $(GEN)
	$(PYTHON) clients/gateway/embed_assets.py clients/gateway/web $@

$(GEN)/gateway_assets.o: $(GEN)/gateway_assets.c clients/gateway/gateway_assets.h
	$(CC) $(CFLAGS) $(CPPFLAGS) -Iclients/gateway -c $< -o $@

$(BUILD)/raftq-gateway: $(GATEWAY_O) $(GATEWAY_UTIL_O) $(CLIENT_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(GATEWAY_LIB): $(filter-out %/raftq_gateway.o $(GEN)/gateway_assets.o,$(GATEWAY_O)) $(GATEWAY_UTIL_O)
	$(AR) rcs $@ $^

$(BUILD)/tests/unit/gateway/%.o: CPPFLAGS += -Iclients/gateway
$(BUILD)/tests/bin/gateway/%: $(BUILD)/tests/unit/gateway/%.o $(BUILD)/tests/support/temp_dir.o $(GATEWAY_LIB) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

$(BUILD)/raftq-bench: $(patsubst %.c,$(BUILD)/%.o,$(BENCH_SRC)) $(CLIENT_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tools/bench/floor/xpub_floor.o: CPPFLAGS += -Itools/bench
$(BUILD)/xpub_floor: $(FLOOR_O)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# The parts of a write's path the floor of issue 12 leaves out (thread hop, fsyncs at once)
$(BUILD)/path_floor: $(BUILD)/tools/bench/floor/path_floor.o
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/bin/%: $(BUILD)/tests/unit/%.o $(TEST_SUPPORT_O) $(BROKER_LIB) $(CLIENT_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

# The simulator links the core and protobuf-c, nothing else: a core that
# reached for ZeroMQ, czmq or the clock would not link.
$(SIM_BIN): $(patsubst %.c,$(BUILD)/%.o,$(SIM_SRC)) $(RAFT_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ -lprotobuf-c

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- tests ---------------------------------------------------------------
test: all
	@$(MAKE) --no-print-directory check-format check-purity unit sim integration fuzz-replay chaos-test

# The core's objects may call no I/O, clock, thread or ZeroMQ function: events
# in, actions out. Lists the offending undefined symbols and fails.
PURITY_FORBIDDEN := ^(open|openat|close|read|write|pread|pwrite|writev|fsync|fdatasync|sync_file_range|rename|unlink|mkdir|fopen|fwrite|fprintf|printf|puts|time|clock_gettime|gettimeofday|nanosleep|usleep|sleep|rand|random|getrandom|socket|send|recv|poll|epoll_wait|pthread_.*|zmq_.*|zsys_.*|zclock_.*|zsock_.*|zmsg_.*|zframe_.*|zloop_.*|zactor_.*)$$
check-purity: $(RAFT_LIB)
	@bad=$$(nm -u $(patsubst %.c,$(BUILD)/%.o,$(RAFT_SRC)) | awk '{print $$NF}' | grep -E '$(PURITY_FORBIDDEN)' | sort -u); \
	if [ -n "$$bad" ]; then echo "src/raft calls I/O: $$bad"; exit 1; else echo "check-purity: src/raft has no I/O symbols"; fi

unit: all
	@failed=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed=1; done; exit $$failed

sim: all
	$(SIM_BIN) --runs $(SIM_RUNS)

integration: all test-deps
	RAFTQ_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/integration/run.py

# --- fuzzing: the rules live beside the targets -----------------------------
include tests/fuzz/fuzz.mk

# --- chaos (tools/raftq-chaos) ------------------------------------------------
# Real partitions need nftables (root), link delay nft NAT and `ss -K` (iproute2);
# every rule lives in its own table and is removed on exit, even on Ctrl-C.
CHAOS_SECONDS     ?= 60
CHAOS_TEST_FAULTS ?= kill,pause,slow,partition-one,partition-leader,partition-split,partition-bridge,partition-ring,loss,torn,corrupt,membership,delay
# CHAOS_WORKLOAD: queue, chat, mixed, limits (small quotas driven to their
# refusals; `make chaos CHAOS_WORKLOAD=limits`) or consume (reserve, ack,
# nack, crashed consumers and dead letters). `make test` keeps mixed: a
# second 20 s campaign would not fit its budget.
CHAOS_WORKLOAD    ?= mixed
.PHONY: chaos chaos-test chaos-deps
chaos-deps:
	@command -v nft >/dev/null && command -v ss >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables iproute2 >/dev/null; }
chaos: all chaos-deps
	$(PYTHON) tools/raftq-chaos --bin $(abspath $(BUILD)) --duration $(CHAOS_SECONDS) --workload $(CHAOS_WORKLOAD)
chaos-test: all chaos-deps
	$(PYTHON) tools/raftq-chaos --self-test
	$(PYTHON) tools/raftq-chaos --bin $(abspath $(BUILD)) --duration 20 --seed 1 --workload $(CHAOS_WORKLOAD) --faults $(CHAOS_TEST_FAULTS)

# Same suite under AddressSanitizer and UndefinedBehaviorSanitizer. The
# quarantine holds freed memory back (256 MiB by default), which the
# memory bounds of test_bounds would count as the node's: 16 MiB keeps
# them meaningful.
asan:
	ASAN_OPTIONS=$${ASAN_OPTIONS:+$$ASAN_OPTIONS:}quarantine_size_mb=16 $(MAKE) BUILD=build-asan SANITIZE=1 test

valgrind: all
	@for t in $(UNIT_BIN); do RAFTQ_VALGRIND=1 valgrind -q --leak-check=full --child-silent-after-fork=yes --error-exitcode=1 $$t || exit 1; done
	valgrind -q --leak-check=full --error-exitcode=1 $(SIM_BIN) --runs 20

# --- running ---------------------------------------------------------------
run: all
	RAFTQ_BUILD=$(abspath $(BUILD)) $(PYTHON) tools/raftq-cluster --config config.json run --gateway

bench: all
	$(BUILD)/raftq-bench --config config.json

# raftq beside etcd and NATS through ../shared/bench (see tools/bench/bench_compare.sh):
# the ratio table, then throughput against in flight plotted into a PNG
bench-compare: all
	tools/bench/bench_compare.sh

# --- install -----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(CLIENT_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/raftq.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' clients/libraftq/raftq.pc.in > $(BUILD)/raftq.pc
	install -m 644 $(BUILD)/raftq.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(PREFIX)/bin/,$(notdir $(BINS)))
	rm -f $(DESTDIR)$(PREFIX)/lib/$(notdir $(CLIENT_LIB)) $(DESTDIR)$(PREFIX)/include/raftq.h
	rm -f $(DESTDIR)$(PREFIX)/lib/pkgconfig/raftq.pc

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'include/*.h' 'clients/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]')

check-format:
	clang-format --dry-run --Werror $$(git ls-files 'src/*.[ch]' 'include/*.h' 'clients/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]')

clean:
	rm -rf $(BUILD) build-asan
