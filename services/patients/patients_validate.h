/*  patients_validate.h: the rules a patient record must satisfy, and the
    normal forms used by the search indexes.                             */
#ifndef PATIENTS_VALIDATE_H
#define PATIENTS_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patients.pb-c.h"

//  A validation failure: which field, and why.
typedef struct {
    char field[96];
    char message[256];
} pat_invalid_t;

//  Checks a full patient record (as it would be stored). `today` is
//  YYYY-MM-DD in UTC, for "birth date in the future". False with `why`
//  filled on the first problem found.
bool pat_validate (const Pm__Patients__Patient *p, const char *today,
                   pat_invalid_t *why);

//  True for a real calendar date written YYYY-MM-DD.
bool pat_valid_date (const char *s);

//  Folds a name for search: lower case, Latin-1 accents removed, runs of
//  space and punctuation dropped. Writes at most outlen-1 bytes.
void pat_fold_name (const char *in, char *out, size_t outlen);

//  The digits of a phone number, at most outlen-1 of them.
void pat_phone_digits (const char *in, char *out, size_t outlen);

#endif
