/*  staffing_recruitment_pb.c: recruitment's generated message code,
    compiled into pm-staffing.

    The build links each service with its own generated code only; staffing
    also decodes recruitment.candidate.hired, whose message lives in
    recruitment.proto. Until the build links a followed service's messages
    itself, they are compiled here (pm-staffing never links recruitment's
    own object, so nothing is defined twice).                             */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "recruitment.pb-c.c"
