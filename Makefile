# Praxis: one hand-written GNU make file. `make help` lists the targets.
#
# Everything built goes under $(BUILD) (build/ by default, build/asan for
# `make asan`); generated protobuf-c code goes to $(BUILD)/gen and is never
# committed.

BUILD    ?= build
SERVICES := patients staffing finance recruitment scheduling
SAN      ?=
PKGS     := libczmq libzmq libprotobuf-c lmdb jansson libical libsodium libmicrohttpd
CC       ?= cc
CFLAGS   ?= -O2 -g
# -Wno-format-truncation: every snprintf here truncates on purpose.
CFLAGS   += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
            -Wstrict-prototypes -Wno-missing-field-initializers \
            -Wno-format-truncation -fno-omit-frame-pointer -MMD -MP $(SAN)
CPPFLAGS += -Icommon -I$(BUILD)/gen -Itests/integration $(foreach s,$(SERVICES),-Iservices/$(s)) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
LDFLAGS  += $(SAN)

GEN      := $(BUILD)/gen
OBJ      := $(BUILD)/obj
BIN      := $(BUILD)/bin

PROTOS       := $(wildcard proto/*.proto) $(wildcard tests/proto/*.proto)
PROTO_C      := $(patsubst %.proto,$(GEN)/%.pb-c.c,$(notdir $(PROTOS)))
PROTO_H      := $(PROTO_C:.c=.h)
# libpm holds the envelope protocol (and the selftests' test messages);
# each service's own messages are linked with the service and with pmctl.
LIB_PROTO    := $(OBJ)/gen/pm.pb-c.o $(OBJ)/gen/pm_test.pb-c.o
# Every service's messages, as one archive every program links: a service
# that follows another decodes its events, and the linker takes only what
# each program uses.
SVC_PROTO    := $(patsubst proto/%.proto,$(OBJ)/gen/%.pb-c.o,$(filter-out proto/pm.proto,$(wildcard proto/*.proto)))
LIBPROTO     := $(BUILD)/lib/libpmproto.a

COMMON_SRC   := $(filter-out common/pm_selftest.c,$(wildcard common/*.c))
COMMON_OBJ   := $(patsubst %.c,$(OBJ)/%.o,$(COMMON_SRC))
LIBPM        := $(BUILD)/lib/libpm.a

# A service is services/<name>/: <name>_schema.c (names and message types,
# shared with pmctl) plus its handlers and main.c.
SCHEMA_OBJ   := $(foreach s,$(SERVICES),$(OBJ)/services/$(s)/$(s)_schema.o)
svc_objs      = $(patsubst %.c,$(OBJ)/%.o,$(wildcard services/$(1)/*.c))

TEST_TOOLS   := $(patsubst tests/tools/%.c,$(BIN)/%,$(wildcard tests/tools/*.c))
ITESTS       := $(patsubst tests/integration/test_%.c,$(BIN)/itest_%,$(wildcard tests/integration/test_*.c))
ITEST_LIB    := $(patsubst %.c,$(OBJ)/%.o,$(filter-out tests/integration/test_%.c,$(wildcard tests/integration/*.c)))
BENCHES      := $(patsubst tests/bench/%.c,$(BIN)/%,$(wildcard tests/bench/*.c))

PROGRAMS     := $(foreach s,$(SERVICES),$(BIN)/pm-$(s)) $(BIN)/pmctl $(BIN)/pm_selftest

.PHONY: all programs deps run demo test asan bench profile profile-book memcheck clean help format
all: deps-check programs $(TEST_TOOLS) $(ITESTS) $(BENCHES)

# The services and pmctl only (what the Docker image ships).
programs: $(PROGRAMS)

help:
	@echo "make            build everything into $(BUILD)/"
	@echo "make run        start Praxis on loopback, data under ./var (Ctrl-C stops it)"
	@echo "make demo       seed a demo network into the services make run started"
	@echo "make test       selftests + integration tests; ends with 'N passed, N failed'"
	@echo "make asan       build under ASan+UBSan into build/asan and run the tests"
	@echo "make bench      durable registrations and bookings (throughput, latency), slot search, erasure passes"
	@echo "make profile    instructions per Register through the write path (callgrind)"
	@echo "make profile-book  instructions per Book in scheduling (callgrind)"
	@echo "make memcheck   selftests under valgrind"
	@echo "make deps       install the Debian packages build, tests and run need"

# Missing packages are installed (as root) or named (otherwise) before a build.
deps-check:
	@deploy/install-deps.sh --check >/dev/null 2>&1 || deploy/install-deps.sh
deps:
	deploy/install-deps.sh
.PHONY: deps-check

# Generated sources are kept, never treated as disposable intermediates.
.SECONDARY:

# --- generated protobuf-c code ------------------------------------------
vpath %.proto proto tests/proto
$(GEN)/%.pb-c.c $(GEN)/%.pb-c.h: %.proto
	@mkdir -p $(GEN)
	protoc-c --proto_path=$(dir $<) --c_out=$(GEN) $<

# Every object may include any generated header: generate them first.
$(OBJ)/%.o: %.c | $(PROTO_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(OBJ)/gen/%.o: $(GEN)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-unused-parameter -c -o $@ $<

$(LIBPM): $(COMMON_OBJ) $(LIB_PROTO)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBPROTO): $(SVC_PROTO)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# --- programs ---------------------------------------------------------
.SECONDEXPANSION:
$(BIN)/pm-%: $$(call svc_objs,$$*) $(LIBPROTO) $(LIBPM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# patients decodes scheduling.appointment.fulfilled (post-visit surveys).

$(BIN)/pmctl: $(OBJ)/tools/pmctl/pmctl.o $(SCHEMA_OBJ) $(LIBPROTO) $(LIBPM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/pm_selftest: $(OBJ)/common/pm_selftest.o $(LIBPM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/itest_%: $(OBJ)/tests/integration/test_%.o $(ITEST_LIB) $(SCHEMA_OBJ) $(LIBPROTO) $(LIBPM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/%: $(OBJ)/tests/tools/%.o $(SCHEMA_OBJ) $(LIBPROTO) $(LIBPM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/%: $(OBJ)/tests/bench/%.o $(ITEST_LIB) $(SCHEMA_OBJ) $(LIBPROTO) $(LIBPM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- running -------------------------------------------------------------
run: all
	deploy/run-local.sh $(BIN)

# Python messages for tools/demo (Debian's python3-protobuf reads them).
$(BUILD)/py: $(wildcard proto/*.proto)
	@mkdir -p $@
	protoc -I proto --python_out=$@ proto/*.proto
	@touch $@

# Seeds a realistic network into the services `make run` started.
demo: all $(BUILD)/py
	PM_BIN=$(BIN) PYTHONPATH=$(BUILD)/py /usr/bin/python3 tools/demo/demo.py

test: all
	tests/run-tests.sh $(BUILD)

asan:
	$(MAKE) BUILD=build/asan SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" test

bench: all
	$(BIN)/bench_register
	$(BIN)/bench_book
	$(BIN)/bench_slots
	$(BIN)/bench_erase
bench-slots: all ; $(BIN)/bench_slots  # FindSlots with 1,000,000 appointments stored

# Instructions per request through the write path (callgrind).
profile: all
	tests/bench/profile.sh $(BIN)
profile-book: all
	tests/bench/profile-book.sh $(BIN)

memcheck: all
	valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
	    --suppressions=tests/valgrind.supp \
	    $(BIN)/pm_selftest

format:
	clang-format -i common/*.[ch] services/*/*.[ch] tools/*/*.c tests/*/*.[ch]

clean:
	rm -rf build

include tests/fuzz/fuzz.mk tests/fault/fault.mk

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
