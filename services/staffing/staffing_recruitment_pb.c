/*  staffing_recruitment_pb.c: recruitment's generated message code,
    compiled into pm-staffing.

    The build links each service with its own generated code; staffing
    also decodes recruitment.candidate.hired, whose message lives in
    recruitment.proto. Until the Makefile links recruitment.pb-c.o into
    pm-staffing (as it does scheduling's into pm-patients), it is compiled
    here, weak, so that the real object wins once it is linked; then this
    file should go (recruitment's later messages would be defined twice). */
#pragma weak pm__recruitment__candidate_hired__init
#pragma weak pm__recruitment__candidate_hired__get_packed_size
#pragma weak pm__recruitment__candidate_hired__pack
#pragma weak pm__recruitment__candidate_hired__pack_to_buffer
#pragma weak pm__recruitment__candidate_hired__unpack
#pragma weak pm__recruitment__candidate_hired__free_unpacked
#pragma weak pm__recruitment__candidate_hired__descriptor
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "recruitment.pb-c.c"
