/*  recruitment_privacy.h: candidates' consent, retention and erasure.
    A candidate with no open process is kept until retain_until (their
    last process's end plus their retention period, by default their
    site's); then, or when they ask, their personal data is removed and
    the anonymous measures stay, in the records and in the older events
    of the stream (recruitment_redact.h).                                 */
#ifndef RECRUITMENT_PRIVACY_H
#define RECRUITMENT_PRIVACY_H

#include "recruitment_candidates.h"

//  Binds SetCandidatePrivacy and EraseCandidate.
void rec_privacy_setup (pm_server_t *server);

//  Timed work: erases candidates whose retention ended.
pm_err rec_privacy_tick (pm_ctx_t *ctx);

//  Application `app` (in memory, not yet stored) just ended: when its
//  candidate has no other open process, their retention clock starts.
pm_err rec_privacy_ended (pm_ctx_t *ctx, const rec_app_t *app);

//  Candidate `c` (in memory) opens a process again: their retention clock
//  stops. True when `c` changed (the caller stores it).
bool rec_privacy_reopened (pm_ctx_t *ctx, rec_cand_t *c);

//  Stamps consent given in a request as recorded now by the caller: a
//  malloc'd copy (free with free_unpacked), NULL when none was given.
Pm__Recruitment__Consent *rec_consent_stamp (pm_ctx_t *ctx,
                                             const Pm__Recruitment__Consent *in);

//  --- the erasure's rules ---------------------------------------------------
//  What a record or an event's state keeps of a person once they are
//  erased, one function per message kind: the erasure of the records and
//  the rewriting of the older events (recruitment_redact.c) use the same.
//  Each frees the personal fields of an unpacked (malloc'd) message;
//  versions and times are the caller's.

//  A candidate: names, e-mail, phone, CV reference, skills.
void rec_erase_candidate_fields (rec_cand_t *c);

//  An application: the referrer and every reason in its history.
void rec_erase_application_fields (rec_app_t *a);

//  An interview: the notes of its scorecards and ratings, the reasons in
//  its history.
void rec_erase_interview_fields (Pm__Recruitment__Interview *itv);

//  A message to or from the candidate: its text (marked erased).
void rec_erase_message_fields (Pm__Recruitment__CandidateMessage *m);

//  A survey: its comment (marked erased).
void rec_erase_survey_fields (Pm__Recruitment__Survey *s);

//  The candidate a message of one of the kinds above is about; NULL for
//  any other kind (the erasure leaves it alone).
const char *rec_erase_whose (const ProtobufCMessage *m);

//  Applies the rule of m's kind (one of the above) to m.
void rec_erase_fields (ProtobufCMessage *m);

#endif
