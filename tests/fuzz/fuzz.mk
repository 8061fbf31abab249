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
# Only the support that does without cmocka: the fuzz binaries do not link it.
FUZZ_SUPPORT  := tests/fuzz/harness.c tests/fuzz/sample_reply.c tests/support/temp_dir.c
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
FUZZ_LIB_O  := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(BROKER_SRC) $(RAFT_SRC)) \
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

# make_seeds and its parts (seeds_*.c: not fuzz targets, not in FUZZ_NAMES)
SEEDS_O := $(patsubst %.c,$(BUILD)/%.o,tests/fuzz/make_seeds.c $(wildcard tests/fuzz/seeds_*.c))
$(BUILD)/tests/fuzz-seeds: $(SEEDS_O) $(FUZZ_SUPPORT_O) $(BROKER_LIB)
	$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

fuzz-seeds: $(BUILD)/tests/fuzz-seeds
	$< tests/fuzz/corpus
