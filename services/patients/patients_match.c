/*  patients_match.c: the duplicate score.

    Evidence and its weight (the score is clamped to 0..100):
      name        folded (case, accents, punctuation) family and first given
                  name compared with Jaro-Winkler, family weighing 0.6:
                  >= 0.97 same name +35, >= 0.90 similar +25, family and
                  given swapped +25
      birth date  same +30; day and month swapped +20; one digit apart +15
      phone       same last 7 digits (phone or SMS) +20
      e-mail      same address, case aside +25
      MRN         the same MRN at the same site +60 (a probe only: two
                  stored records never share one)
      sex         both recorded as female/male and different -15
    Same name and birth date (65) is a likely duplicate on its own; twins
    (same family, birth date, phone, different given name: 50) are not.  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patients_match.h"
#include "patients_store.h"
#include "patients_validate.h"

#define NAME_MAX_BYTES PAT_MATCH_NAME_MAX

//  --------------------------------------------------------------------------
//  Jaro-Winkler: matching characters within a window, transpositions,
//  and a bonus for a common prefix of up to four.
double
pat_jaro_winkler (const char *a, const char *b)
{
    size_t la = strnlen (a, NAME_MAX_BYTES), lb = strnlen (b, NAME_MAX_BYTES);
    if (la == 0 && lb == 0) {
        return 1.0;
    }
    if (la == 0 || lb == 0) {
        return 0.0;
    }
    if (la == lb && memcmp (a, b, la) == 0) {
        return 1.0;
    }
    size_t window = (la > lb ? la : lb) / 2;
    window = window > 0 ? window - 1 : 0;
    bool ma[NAME_MAX_BYTES], mb[NAME_MAX_BYTES];
    memset (ma, 0, la);
    memset (mb, 0, lb);
    size_t matches = 0;
    for (size_t i = 0; i < la; i++) {
        size_t lo = i > window ? i - window : 0;
        size_t hi = i + window + 1 < lb ? i + window + 1 : lb;
        for (size_t j = lo; j < hi; j++) {
            if (!mb[j] && a[i] == b[j]) {
                ma[i] = mb[j] = true;
                matches++;
                break;
            }
        }
    }
    if (matches == 0) {
        return 0.0;
    }
    size_t half = 0;
    for (size_t i = 0, j = 0; i < la; i++) {
        if (ma[i]) {
            while (!mb[j]) {
                j++;
            }
            half += a[i] != b[j];
            j++;
        }
    }
    double m = (double) matches;
    double jaro = (m / (double) la + m / (double) lb + (m - (double) half / 2) / m) / 3;
    size_t prefix = 0;
    while (prefix < 4 && prefix < la && prefix < lb && a[prefix] == b[prefix]) {
        prefix++;
    }
    return jaro + (double) prefix * 0.1 * (1.0 - jaro);
}

static void
s_add (pat_match_t *out, const char *field, int points, const char *detail)
{
    if (out->n == PAT_MATCH_REASONS) {
        return;
    }
    pat_reason_t *r = &out->reasons[out->n++];
    r->field = field;
    r->points = points;
    snprintf (r->detail, sizeof r->detail, "%s", detail);
    out->score += points;
}

//  Folded family and first given name; false when the record has none.
static bool
s_names (const Pm__Patients__Patient *p, char *family, char *given)
{
    if (!p->name || !p->name->family || p->name->n_given == 0) {
        return false;
    }
    pat_fold_name (p->name->family, family, NAME_MAX_BYTES);
    pat_fold_name (p->name->given[0], given, NAME_MAX_BYTES);
    return *family && *given;
}

//  --------------------------------------------------------------------------
//  The name evidence between two folded (family, first given) pairs:
//  its points, and its text in `detail` (unless NULL).
int
pat_match_names (const char *fa, const char *ga, const char *fb, const char *gb,
                 char *detail, size_t len)
{
    double direct = 0.6 * pat_jaro_winkler (fa, fb) + 0.4 * pat_jaro_winkler (ga, gb);
    if (direct >= 0.97) {
        if (detail) {
            snprintf (detail, len, "same name (%.2f)", direct);
        }
        return 35;
    }
    if (direct >= 0.90) {
        if (detail) {
            snprintf (detail, len, "similar name (%.2f)", direct);
        }
        return 25;
    }
    //  Weighed evenly, so that the score does not depend on which record
    //  is looked at from which.
    double swapped = 0.5 * pat_jaro_winkler (fa, gb) + 0.5 * pat_jaro_winkler (ga, fb);
    if (swapped >= 0.97) {
        if (detail) {
            snprintf (detail, len, "family and given name swapped");
        }
        return 25;
    }
    return 0;
}

static void
s_match_name (const Pm__Patients__Patient *a, const Pm__Patients__Patient *b,
              pat_match_t *out)
{
    char fa[NAME_MAX_BYTES], ga[NAME_MAX_BYTES], fb[NAME_MAX_BYTES],
        gb[NAME_MAX_BYTES];
    if (!s_names (a, fa, ga) || !s_names (b, fb, gb)) {
        return;
    }
    char detail[80];
    int points = pat_match_names (fa, ga, fb, gb, detail, sizeof detail);
    if (points) {
        s_add (out, "name", points, detail);
    }
}

static void
s_match_birth (const char *a, const char *b, pat_match_t *out)
{
    if (!a || !b || strlen (a) != 10 || strlen (b) != 10) {
        return;
    }
    if (strcmp (a, b) == 0) {
        s_add (out, "birth_date", 30, "same birth date");
        return;
    }
    //  1980-03-04 against 1980-04-03: day and month typed the other way.
    char t[11];
    snprintf (t, sizeof t, "%.4s-%.2s-%.2s", a, a + 8, a + 5);
    if (strcmp (t, b) == 0) {
        s_add (out, "birth_date", 20, "day and month swapped");
        return;
    }
    int differ = 0;
    for (int i = 0; i < 10; i++) {
        differ += a[i] != b[i];
    }
    if (differ == 1) {
        s_add (out, "birth_date", 15, "birth date one digit apart");
    }
}

//  True when some phone/SMS of `a` and of `b` share their last 7 digits;
//  `email` instead compares e-mail addresses.
static bool
s_share_contact (const Pm__Patients__Patient *a, const Pm__Patients__Patient *b,
                 bool email)
{
    for (size_t i = 0; i < a->n_telecom; i++) {
        bool ai = a->telecom[i]->system == PM__PATIENTS__CONTACT_SYSTEM__EMAIL;
        for (size_t j = 0; ai == email && j < b->n_telecom; j++) {
            bool bj = b->telecom[j]->system == PM__PATIENTS__CONTACT_SYSTEM__EMAIL;
            if (bj != email || !a->telecom[i]->value || !b->telecom[j]->value) {
                continue;
            }
            char x[256], y[256];
            if (email) {
                pat_email_key (a->telecom[i]->value, x, sizeof x);
                pat_email_key (b->telecom[j]->value, y, sizeof y);
                if (*x && strcmp (x, y) == 0) {
                    return true;
                }
                continue;
            }
            pat_phone_digits (a->telecom[i]->value, x, sizeof x);
            pat_phone_digits (b->telecom[j]->value, y, sizeof y);
            size_t lx = strlen (x), ly = strlen (y);
            if (lx >= 7 && ly >= 7 && memcmp (x + lx - 7, y + ly - 7, 7) == 0) {
                return true;
            }
        }
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Scores `a` against `b`.
void
pat_match (const Pm__Patients__Patient *a, const Pm__Patients__Patient *b,
           pat_match_t *out)
{
    memset (out, 0, sizeof *out);
    s_match_name (a, b, out);
    s_match_birth (a->birth_date, b->birth_date, out);
    if (s_share_contact (a, b, false)) {
        s_add (out, "phone", 20, "same phone number (last 7 digits)");
    }
    if (s_share_contact (a, b, true)) {
        s_add (out, "email", 25, "same e-mail address");
    }
    bool mrn = false;
    for (size_t i = 0; i < a->n_mrns && !mrn; i++) {
        for (size_t j = 0; j < b->n_mrns && !mrn; j++) {
            const Pm__Patients__SiteMrn *x = a->mrns[i], *y = b->mrns[j];
            mrn = x->site_id && y->site_id && x->mrn && y->mrn
                  && strcmp (x->site_id, y->site_id) == 0
                  && strcmp (x->mrn, y->mrn) == 0;
        }
    }
    if (mrn) {
        s_add (out, "mrn", 60, "same MRN at the same site");
    }
    bool binary_a = a->sex == PM__PATIENTS__SEX__FEMALE || a->sex == PM__PATIENTS__SEX__MALE;
    bool binary_b = b->sex == PM__PATIENTS__SEX__FEMALE || b->sex == PM__PATIENTS__SEX__MALE;
    if (a->has_sex && b->has_sex && binary_a && binary_b && a->sex != b->sex) {
        s_add (out, "sex", -15, "recorded sex differs");
    }
    out->score = out->score < 0 ? 0 : out->score > 100 ? 100 : out->score;
}
