/*  recruitment_metrics.h: the candidate-experience report per requisition
    and site (time to first response, time in stage, time to offer and to
    hire, offer acceptance, sources).                                     */
#ifndef RECRUITMENT_METRICS_H
#define RECRUITMENT_METRICS_H

#include "recruitment_store.h"

//  Binds recruitment.ExperienceReport.
void rec_metrics_setup (pm_server_t *server);

#endif
