/*  staffing_training.h: the courses each role requires, completions, who
    is overdue, and staffing.training.overdue once per due date.

    Each person has a TrainingStatus per course their roles require: the
    due date follows from their last completion (plus the renewal period)
    or, before any, from their start date (plus the grace period). It is
    recomputed whenever something it depends on changes: a completion,
    the person's roles, sites or termination, the role's requirements.   */
#ifndef STAFFING_TRAINING_H
#define STAFFING_TRAINING_H

#include "pm_server.h"
#include "staffing_staff.h"

//  Binds the training commands and follows staff changes.
void stf_training_setup (pm_server_t *server);

//  Recomputes every training status of staff member `s`.
pm_err stf_training_refresh (pm_ctx_t *ctx, const stf_staff_t *s);

//  Recomputes the statuses of everyone who has `role` (its requirements
//  changed).
pm_err stf_training_role_changed (pm_ctx_t *ctx, const char *role);

//  Timed work: announces training that fell overdue (once per due date).
pm_err stf_training_tick (pm_ctx_t *ctx);

#endif
