/*  patients.h: the patients service: network identity of every patient.

    Store layout (sub-databases of the service's LMDB environment):
      patients   id                                -> pm.patients.Patient
      by_name    fold(family) 0 fold(given) 0 id   -> ""   (search order)
      by_dob     YYYY-MM-DD 0 id                   -> ""
      by_phone   reversed digits 0 id              -> ""  (tail search)
      by_mrn     site_id 0 mrn                     -> id
      mrn_seq    site_id                           -> be64 last assigned
      by_email   lower-case e-mail 0 id            -> ""  (duplicate search)
      dups       'P' a 0 b                         -> DuplicatePair (a < b)
                 'S' site 0 255-score a 0 b        -> ""  (open pairs, best first)
                 'B' id 0 other                    -> ""  (a record's pairs)
      merges     merged id                         -> MergeRecord (both
                                                      records before it)
      consent    'C' id                            -> Consent
                 'H' id 0 be64 version             -> ConsentChange
      surveys    'R' id                            -> Survey
                 'S' site 0 be64 visit end 0 id    -> ""
                 'P' patient 0 id                  -> ""
      complaints 'R' id                            -> Complaint
                 'S' site 0 be64 received 0 id     -> ""
                 'P' patient 0 id                  -> ""
                 'D' be64 due kind id              -> ""  (pending dues)
                 'L' site                          -> ComplaintSla
      redactions erased id                         -> EventRedaction (the
                                                      stream's older events
                                                      still to rewrite)

    Duplicate detection: patients_match.c (the score), patients_dups.c
    (candidates, worklists). Merge and unmerge: patients_merge.c.
    Consent: patients_consent.c. Post-visit surveys (following
    scheduling): patients_surveys.c. Complaints and their service levels:
    patients_complaints.c. Erasure: patients_erase.c.                                              */
#ifndef PATIENTS_H
#define PATIENTS_H

#include "pm_server.h"

//  Opens the service's sub-databases and binds its handlers. -1 on failure.
int patients_setup (pm_server_t *server);

#endif
