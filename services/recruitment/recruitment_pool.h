/*  recruitment_pool.h: the talent pool - candidates who agreed to be kept
    for later openings - its index, kept in the transactions that change a
    candidate or their applications, and recruitment.SearchTalentPool over
    it; candidates' skills (what the search's keywords match).            */
#ifndef RECRUITMENT_POOL_H
#define RECRUITMENT_POOL_H

#include "recruitment_candidates.h"

#define REC_SKILLS_MAX 30    //  skills one candidate has, at most
#define REC_SKILL_CHARS 60   //  characters one skill has, at most
#define REC_SKILL_BYTES 256  //  room for a skill as matched (UTF-8), NUL included

//  Binds SearchTalentPool and SetCandidateSkills.
void rec_pool_setup (pm_server_t *server);

//  Brings the pool index of candidate `c` (as stored in this txn, or newer
//  in memory) up to date: entries for a member, none for anyone else.
//  `current` (may be NULL) is one of their applications, newer in memory
//  than in the store. Call after every change to a candidate's consent,
//  skills, sites, retention or erasure, and to their applications.
pm_err rec_pool_sync (MDB_txn *txn, const rec_cand_t *c, const rec_app_t *current);

//  The same for the candidate stored under `cand_id`.
pm_err rec_pool_sync_id (MDB_txn *txn, const char *cand_id, const rec_app_t *current);

//  The same for every candidate who applied to requisition `job_id` (its
//  role changed).
pm_err rec_pool_sync_job (MDB_txn *txn, const char *job_id);

//  Start-up: indexes the pool of a store from before the pool index
//  (pm_store_migrate, marker "talent-pool-index"). 0, or -1 (logged).
int rec_pool_migrate (pm_store_t *store);

//  A skill or keyword as matched into out (REC_SKILL_BYTES): trimmed, runs
//  of spaces as one, ASCII lower case. False when it is not one (empty,
//  control characters, more than REC_SKILL_CHARS characters).
bool rec_skill_norm (const char *in, char *out);

//  Checks a list of skills (or keywords) named `field`: at most `max`,
//  each a skill, no two the same as matched. PM_OK, or the command fails
//  with EINVAL naming the field ("field[i]").
pm_err rec_skills_check (pm_ctx_t *ctx, const char *field, char *const *skills,
                         size_t n, size_t max);

#endif
