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

PACKAGES  := libzmq3-dev libczmq-dev libprotobuf-c-dev protobuf-c-compiler \
             libcmocka-dev libjansson-dev libsodium-dev python3-zmq pkg-config
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

BINS := $(BUILD)/raftqd $(if $(CLI_SRC),$(BUILD)/raftq) $(if $(BENCH_SRC),$(BUILD)/raftq-bench)

DEPS_STAMP := $(BUILD)/.deps-ok

# Keep generated sources and objects: they are intermediates to make, not to us.
.SECONDARY:

.PHONY: all deps test unit sim integration run bench install uninstall clean format check-format asan valgrind
all: $(DEPS_STAMP) $(BINS) $(UNIT_BIN) $(if $(SIM_SRC),$(SIM_BIN))

# Installs only what is missing; apt-get needs root (CI and the dev machines are).
$(DEPS_STAMP):
	@mkdir -p $(BUILD)
	@if pkg-config --exists $(PKGS) cmocka && command -v protoc-c >/dev/null \
	    && $(PYTHON) -c 'import zmq' 2>/dev/null; then :; else \
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

$(BUILD)/tests/test_%: $(BUILD)/tests/unit/test_%.o $(TEST_SUPPORT_O) $(BROKER_LIB) $(CLIENT_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS) -lcmocka

$(SIM_BIN): $(patsubst %.c,$(BUILD)/%.o,$(SIM_SRC)) $(TEST_SUPPORT_O) $(BROKER_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- tests ---------------------------------------------------------------
test: all
	@$(MAKE) --no-print-directory unit sim integration

unit: all
	@failed=0; for t in $(UNIT_BIN); do echo "== $$t"; $$t || failed=1; done; exit $$failed

sim: all
	$(SIM_BIN) --runs $(SIM_RUNS)

integration: all
	RAFTQ_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/integration/run.py

# Same suite under AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build-asan SANITIZE=1 test

valgrind: all
	@for t in $(UNIT_BIN); do valgrind -q --leak-check=full --error-exitcode=1 $$t || exit 1; done
	valgrind -q --leak-check=full --error-exitcode=1 $(SIM_BIN) --runs 20

# --- running ---------------------------------------------------------------
run: all
	RAFTQ_BUILD=$(abspath $(BUILD)) $(PYTHON) tools/raftq-cluster --config config.json run

bench: all
	$(BUILD)/raftq-bench --config config.json

# --- install -----------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(CLIENT_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/raftq.h $(DESTDIR)$(PREFIX)/include/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/raftqd $(DESTDIR)$(PREFIX)/bin/raftq $(DESTDIR)$(PREFIX)/bin/raftq-bench
	rm -f $(DESTDIR)$(PREFIX)/lib/libraftq.a $(DESTDIR)$(PREFIX)/include/raftq.h

format:
	clang-format -i $$(git ls-files 'src/*.[ch]' 'include/*.h' 'clients/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]')

check-format:
	clang-format --dry-run --Werror $$(git ls-files 'src/*.[ch]' 'include/*.h' 'clients/*.[ch]' 'tests/*.[ch]' 'tools/*.[ch]')

clean:
	rm -rf $(BUILD) build-asan
