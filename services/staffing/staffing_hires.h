/*  staffing_hires.h: staff made from recruitment's hires. Staffing
    follows the recruitment stream (durable cursor in the same transaction
    as the change) and onboards each recruitment.candidate.hired exactly
    once, keyed by candidate id, however often it is delivered.           */
#ifndef STAFFING_HIRES_H
#define STAFFING_HIRES_H

#include "pm_server.h"

//  Binds staffing.GetHire and follows the recruitment stream.
void stf_hires_setup (pm_server_t *server);

#endif
