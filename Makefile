# raftq build. `make` installs missing Debian packages, generates the
# protobuf-c code from proto/ and builds everything into build/.
# Sources are found by wildcard: a new src/*.c joins the broker library, a new
# tests/unit/test_*.c becomes a unit test binary, without editing this file.

BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
SANITIZE  ?=
PYTHON    ?= /usr/bin/python3
SIM_RUNS  ?= 3000
VERSION   ?= 0.1.0

PACKAGES  := libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler \
             libcmocka-dev libjansson-dev libsodium-dev python3-zmq pkg-config clang-format
PKGS      := libzmq libczmq libprotobuf-c jansson libsodium

CC        ?= cc
CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -fno-omit-frame-pointer
ifneq ($(SANITIZE),)
CFLAGS    += -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS   += -fsanitize=address,undefined
endif
GEN       := $(BUILD)/gen
CPPFLAGS  += -I$(GEN) -Isrc -Iinclude -Itests/support
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LDLIBS    += $(PKG_LIBS) -lpthread -lm

PROTOS    := $(wildcard proto/*.proto)
PROTO_C   := $(patsubst proto/%.proto,$(GEN)/%.pb-c.c,$(PROTOS))
PROTO_H   := $(PROTO_C:.c=.h)
PROTO_O   := $(PROTO_C:.c=.o)

# ONLY="src/a.c src/b.c" limits the broker library to those sources (handy
# while other modules are mid-edit in a shared tree).
ONLY       ?=
BROKER_SRC := $(if $(ONLY),$(ONLY),$(filter-out src/raftqd.c,$(wildcard src/*.c)))
BROKER_O   := $(patsubst %.c,$(BUILD)/%.o,$(BROKER_SRC))
BROKER_LIB := $(BUILD)/libraftqd.a

CLIENT_SRC := $(wildcard clients/libraftq/*.c)
CLIENT_O   := $(patsubst %.c,$(BUILD)/%.o,$(CLIENT_SRC))
CLIENT_LIB := $(BUILD)/libraftq.a
CLI_SRC    := $(wildcard clients/cli/*.c)
BENCH_SRC  := $(wildcard tools/bench/*.c)

TEST_SUPPORT_O := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/support/*.c))
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
SIM_SRC    := $(wildcard tests/sim/*.c)
SIM_BIN    := $(BUILD)/tests/raft_sim

# The fan-out floor: a bare libzmq XPUB, for what the machine allows (tools/bench/floor)
FLOOR_O    := $(BUILD)/tools/bench/floor/xpub_floor.o $(BUILD)/tools/bench/fanout_subscribers.o \
              $(BUILD)/tools/bench/histogram.o

BINS := $(BUILD)/raftqd $(if $(CLI_SRC),$(BUILD)/raftq) $(if $(BENCH_SRC),$(BUILD)/raftq-bench $(BUILD)/xpub_floor)

DEPS_STAMP := $(BUILD)/.deps-ok

# Keep generated sources and objects: they are intermediates to make, not to us.
.SECONDARY:

.PHONY: all deps test unit sim integration run bench install uninstall clean format check-format asan valgrind
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

$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: proto/%.proto | $(DEPS_STAMP)
	@mkdir -p $(GEN)
	protoc-c --proto_path=proto --c_out=$(GEN) $<

# Generated code is not ours to warn about: -Werror stays off for it alone.
$(GEN)/%.pb-c.o: $(GEN)/%.pb-c.c $(PROTO_H)
	$(CC) $(filter-out -Werror,$(CFLAGS)) $(CPPFLAGS) $(PKG_CFLAGS) -fPIC -c $< -o $@

$(BUILD)/%.o: %.c $(PROTO_H) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) $(PKG_CFLAGS) -fPIC -MMD -MP -c $< -o $@

$(BROKER_LIB): $(BROKER_O) $(PROTO_O)
	$(AR) rcs $@ $^

$(CLIENT_LIB): $(CLIENT_O) $(GEN)/raftq.pb-c.o
	$(AR) rcs $@ $^

$(BUILD)/raftqd: $(BUILD)/src/raftqd.o $(BROKER_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/raftq: $(patsubst %.c,$(BUILD)/%.o,$(CLI_SRC)) $(CLIENT_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/raftq-bench: $(patsubst %.c,$(BUILD)/%.o,$(BENCH_SRC)) $(CLIENT_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tools/bench/floor/xpub_floor.o: CPPFLAGS += -Itools/bench
$(BUILD)/xpub_floor: $(FLOOR_O)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(TEST_SUPPORT_O) $(BROKER_LIB) $(CLIENT_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

$(SIM_BIN): $(patsubst %.c,$(BUILD)/%.o,$(SIM_SRC)) $(TEST_SUPPORT_O) $(BROKER_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- tests ---------------------------------------------------------------
test: all
	@$(MAKE) --no-print-directory check-format unit sim integration fuzz-replay chaos-test

unit: all
	@failed=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed=1; done; exit $$failed

sim: all
	$(SIM_BIN) --runs $(SIM_RUNS)

integration: all
	RAFTQ_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/integration/run.py

# --- fuzzing (tests/fuzz) ------------------------------------------------------
# Every tests/fuzz/fuzz_<name>.c is a libFuzzer target with seeds in
# tests/fuzz/corpus/<name>/.
# `make fuzz` builds them with clang, libFuzzer, ASan and UBSan into
# $(BUILD)/fuzz/ and runs each for FUZZ_SECONDS, one after the other (FUZZ_NAMES
# picks some; FUZZ_OPTIONS adds libFuzzer flags). What they find goes to
# $(BUILD)/fuzz/corpus/<name>/, crashes to $(BUILD)/fuzz/crashes/.
# `make fuzz-merge` minimizes the findings into tests/fuzz/corpus/<name>/.
# `make fuzz-replay` (part of `make test`) builds the same targets with $(CC)
# and a plain driver, no clang needed, and runs every corpus file once.
# `make fuzz-seeds` rewrites the seed-* files of the corpora.
FUZZ_SECONDS  ?= 60
FUZZ_OPTIONS  ?=
FUZZ_CC       ?= clang
FUZZ_PACKAGES := clang libclang-rt-14-dev
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_REPLAY   := $(BUILD)/tests/fuzz-replay
FUZZ_NAMES    ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SUPPORT  := tests/fuzz/harness.c tests/fuzz/sample_reply.c $(wildcard tests/support/*.c)
# -max_len per target: the file-based ones need room for a segment or for both
# meta slots (4 KiB apart); FUZZ_MAX_LEN for the rest.
FUZZ_MAX_LEN               ?= 4096
FUZZ_MAX_LEN_config        ?= 8192
FUZZ_MAX_LEN_log_recovery  ?= 8192
FUZZ_MAX_LEN_meta_recovery ?= 8256
FUZZ_CFLAGS := -O1 -g -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_STAMP  := $(FUZZ_DIR)/.deps-ok
FUZZ_BINS   := $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))
FUZZ_LIB    := $(FUZZ_DIR)/libraftqd.a
FUZZ_LIB_O  := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(BROKER_SRC)) \
               $(patsubst $(GEN)/%.c,$(FUZZ_DIR)/obj/gen/%.o,$(PROTO_C))
FUZZ_REPLAY_BINS := $(patsubst %,$(FUZZ_REPLAY)/fuzz_%,$(FUZZ_NAMES))
FUZZ_SUPPORT_O   := $(patsubst %.c,$(BUILD)/%.o,$(FUZZ_SUPPORT))
fuzz_max_len = $(or $(FUZZ_MAX_LEN_$(1)),$(FUZZ_MAX_LEN))

.PHONY: fuzz fuzz-replay fuzz-merge fuzz-seeds

# clang and its libFuzzer runtime: only `make fuzz` needs them, not `make test`.
$(FUZZ_STAMP): | $(DEPS_STAMP)
	@mkdir -p $(FUZZ_DIR)
	@if printf 'int LLVMFuzzerTestOneInput (const char *d, unsigned long s) { return !d && s; }\n' \
	    | $(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c - -o $(FUZZ_DIR)/probe 2>/dev/null; \
	  then :; else \
	  echo "installing fuzzing dependencies: $(FUZZ_PACKAGES)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(FUZZ_PACKAGES) >/dev/null; \
	fi
	@rm -f $(FUZZ_DIR)/probe
	@touch $@

# Warnings stay warnings here: $(CC) with -Werror is the gate, and another
# compiler's opinions should not stop a fuzzing run.
$(FUZZ_DIR)/obj/%.o: %.c $(PROTO_H) | $(FUZZ_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(CPPFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_DIR)/obj/gen/%.o: $(GEN)/%.c $(PROTO_H) | $(FUZZ_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(CPPFLAGS) $(PKG_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_O)
	$(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o \
                    $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_SUPPORT)) $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $^ -o $@ $(LDLIBS)

fuzz: $(FUZZ_BINS)
	@mkdir -p $(FUZZ_DIR)/crashes
	@$(foreach name,$(FUZZ_NAMES),echo "== fuzz_$(name): $(FUZZ_SECONDS) s" && \
	  mkdir -p $(FUZZ_DIR)/corpus/$(name) && \
	  $(FUZZ_DIR)/fuzz_$(name) -max_total_time=$(FUZZ_SECONDS) -max_len=$(call fuzz_max_len,$(name)) \
	    -timeout=10 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crashes/$(name)- \
	    $(FUZZ_OPTIONS) $(FUZZ_DIR)/corpus/$(name) tests/fuzz/corpus/$(name) && ) true

fuzz-merge: $(FUZZ_BINS)
	@$(foreach name,$(FUZZ_NAMES),echo "== fuzz_$(name): merging" && \
	  mkdir -p $(FUZZ_DIR)/corpus/$(name) && \
	  $(FUZZ_DIR)/fuzz_$(name) -merge=1 -max_len=$(call fuzz_max_len,$(name)) \
	    tests/fuzz/corpus/$(name) $(FUZZ_DIR)/corpus/$(name) && ) true

$(FUZZ_REPLAY)/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/tests/fuzz/replay_main.o $(FUZZ_SUPPORT_O) \
                  $(BROKER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

fuzz-replay: $(FUZZ_REPLAY_BINS)
	@failed=0; for name in $(FUZZ_NAMES); do \
	  $(FUZZ_REPLAY)/fuzz_$$name tests/fuzz/corpus/$$name || failed=1; done; exit $$failed

$(BUILD)/tests/fuzz-seeds: $(BUILD)/tests/fuzz/make_seeds.o $(FUZZ_SUPPORT_O) $(BROKER_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

fuzz-seeds: $(BUILD)/tests/fuzz-seeds
	$< tests/fuzz/corpus

# --- chaos (tools/raftq-chaos) ------------------------------------------------
# Real partitions need nftables (root), link delay nft NAT and `ss -K` (iproute2);
# every rule lives in its own table and is removed on exit, even on Ctrl-C.
CHAOS_SECONDS     ?= 60
CHAOS_TEST_FAULTS ?= kill,pause,slow,partition-one,partition-leader,partition-split,partition-bridge,partition-ring,loss,torn,corrupt,membership,delay
CHAOS_WORKLOAD    ?= mixed
.PHONY: chaos chaos-test chaos-deps
chaos-deps:
	@command -v nft >/dev/null && command -v ss >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables iproute2 >/dev/null; }
chaos: all chaos-deps
	$(PYTHON) tools/raftq-chaos --bin $(abspath $(BUILD)) --duration $(CHAOS_SECONDS) --workload $(CHAOS_WORKLOAD)
chaos-test: all chaos-deps
	$(PYTHON) tools/raftq-chaos --self-test
	$(PYTHON) tools/raftq-chaos --bin $(abspath $(BUILD)) --duration 20 --seed 1 --workload $(CHAOS_WORKLOAD) --faults $(CHAOS_TEST_FAULTS)

# Same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 test

valgrind: all
	@for t in $(UNIT_BIN); do valgrind -q --leak-check=full --child-silent-after-fork=yes --error-exitcode=1 $$t || exit 1; done
	valgrind -q --leak-check=full --error-exitcode=1 $(SIM_BIN) --runs 20

# --- running ---------------------------------------------------------------
run: all
	RAFTQ_BUILD=$(abspath $(BUILD)) $(PYTHON) tools/raftq-cluster --config config.json run

bench: all
	$(BUILD)/raftq-bench --config config.json

# --- install -----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(CLIENT_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/raftq.h $(DESTDIR)$(PREFIX)/include/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(VERSION)|g' clients/libraftq/raftq.pc.in > $(BUILD)/raftq.pc
	install -m 644 $(BUILD)/raftq.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/raftqd $(DESTDIR)$(PREFIX)/bin/raftq $(DESTDIR)$(PREFIX)/bin/raftq-bench
	rm -f $(DESTDIR)$(PREFIX)/lib/libraftq.a $(DESTDIR)$(PREFIX)/include/raftq.h
	rm -f $(DESTDIR)$(PREFIX)/lib/pkgconfig/raftq.pc

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'include/*.h' 'clients/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]')

check-format:
	clang-format --dry-run --Werror $$(git ls-files 'src/*.[ch]' 'include/*.h' 'clients/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]')

clean:
	rm -rf $(BUILD) build-asan
