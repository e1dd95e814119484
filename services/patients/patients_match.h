/*  patients_match.h: how alike two patient records are. A score from 0
    to 100 built from named pieces of evidence (name, birth date, phone,
    e-mail, MRN, sex), so a reviewer sees why two records were paired.
    Pure functions over records: no store, no clock.                     */
#ifndef PATIENTS_MATCH_H
#define PATIENTS_MATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "patients.pb-c.h"

//  At or above: a likely duplicate, raised on the site worklists.
#define PAT_MATCH_LIKELY 60
//  Below: not worth showing at all.
#define PAT_MATCH_DEFAULT_MIN 40

#define PAT_MATCH_REASONS 8
#define PAT_MATCH_NAME_MAX 128  //  folded name bytes compared

typedef struct {
    const char *field;  //  "name", "birth_date", ...
    int points;         //  negative: evidence against
    char detail[80];
} pat_reason_t;

typedef struct {
    int score;          //  0..100
    int n;
    pat_reason_t reasons[PAT_MATCH_REASONS];
} pat_match_t;

//  Jaro-Winkler similarity of two byte strings, 0.0 .. 1.0.
double pat_jaro_winkler (const char *a, const char *b);

//  The name evidence between two folded (family, first given) pairs, as
//  pat_match counts it: 35, 25 or 0 points, the reason in `detail`
//  (NULL: points only).
int pat_match_names (const char *fa, const char *ga, const char *fb,
                     const char *gb, char *detail, size_t len);

//  Scores `a` against `b`. Either may lack fields (a probe, an erased
//  record): missing evidence adds nothing.
void pat_match (const Pm__Patients__Patient *a, const Pm__Patients__Patient *b,
                pat_match_t *out);

#endif
