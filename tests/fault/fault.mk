# tests/fault/fault.mk: the fault suites (included by the Makefile).
#
#   make test-fault   kill -9 under load, disk full, network partitions;
#                     ends with "N passed, N failed, N skipped"
#
# The suites that need root (a tmpfs, network namespaces) are skipped, and
# counted as skipped, where they cannot run. FAULT_SEED replays a run's
# random choices; FAULT_SECONDS sets how long the kill -9 load runs.
# A service joins by a workload (tests/fault/fault_<service>.c, see
# fault.h) added to FAULT_WORKLOADS.

FAULT_WORKLOADS := patients scheduling staffing recruitment
FAULT_SUITES    := kill disk net
FAULT_BINS      := $(patsubst %,$(BIN)/fault_%,$(FAULT_SUITES))
FAULT_LIB       := $(OBJ)/tests/fault/fault.o \
                   $(patsubst %,$(OBJ)/tests/fault/fault_%.o,$(FAULT_WORKLOADS))

.PHONY: test-fault
test-fault: all $(FAULT_BINS)
	tests/fault/run-fault.sh $(BUILD)

$(FAULT_BINS): $(BIN)/fault_%: $(OBJ)/tests/fault/fault_%.o $(FAULT_LIB) \
        $(ITEST_LIB) $(SCHEMA_OBJ) $(LIBPROTO) $(LIBPM)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
