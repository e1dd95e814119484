/*  patients_validate.c: field rules for patient records.

    Messages name the field by its JSON path ("patient.telecom[1].value")
    so that a front desk form can point at the box to fix.               */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "patients_validate.h"

#define NAME_MAX_CHARS 100
#define GIVEN_MAX 5
#define TELECOM_MAX 10
#define ADDRESS_LINES_MAX 4
#define MRNS_MAX 32

static bool
s_fail (pat_invalid_t *why, const char *field, const char *fmt, ...)
{
    snprintf (why->field, sizeof why->field, "%s", field);
    va_list args;
    va_start (args, fmt);
    vsnprintf (why->message, sizeof why->message, fmt, args);
    va_end (args);
    return false;
}

//  Length in characters of UTF-8 text; -1 when it holds control
//  characters (a name or a phone with a newline is a paste accident).
static long
s_text_chars (const char *s)
{
    long n = 0;
    for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return -1;
        }
        if ((*c & 0xc0) != 0x80) {
            n++;
        }
    }
    return n;
}

//  A required or optional text field of at most `max` characters.
static bool
s_text (pat_invalid_t *why, const char *field, const char *s, bool required,
        long max)
{
    if (!s || !*s) {
        return required ? s_fail (why, field, "is required") : true;
    }
    long n = s_text_chars (s);
    if (n < 0) {
        return s_fail (why, field, "must not contain control characters");
    }
    if (n > max) {
        return s_fail (why, field, "is %ld characters; at most %ld", n, max);
    }
    return true;
}

//  The decimal number in the first `n` characters of `s` (digits checked).
static int
s_number (const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

//  --------------------------------------------------------------------------
//  True for a real calendar date written YYYY-MM-DD.
bool
pat_valid_date (const char *s)
{
    static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || strlen (s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !isdigit ((unsigned char) s[i])) {
            return false;
        }
    }
    int y = s_number (s, 4), m = s_number (s + 5, 2), d = s_number (s + 8, 2);
    if (m < 1 || m > 12 || d < 1 || d > days[m - 1]) {
        return false;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return !(m == 2 && d == 29 && !leap);
}

//  A phone number: digits, spaces and + - ( ) . only, 5 to 20 digits.
static bool
s_phone (pat_invalid_t *why, const char *field, const char *v)
{
    int digits = 0;
    for (const char *c = v; *c; c++) {
        if (isdigit ((unsigned char) *c)) {
            digits++;
        }
        else if (!strchr (" +-().", *c)) {
            return s_fail (why, field, "\"%.40s\" is not a phone number: only "
                                       "digits, spaces and + - ( ) . allowed", v);
        }
    }
    if (digits < 5 || digits > 20) {
        return s_fail (why, field, "a phone number has 5 to 20 digits, not %d",
                       digits);
    }
    return true;
}

//  An e-mail address: one @, something before it, a dotted domain after.
static bool
s_email (pat_invalid_t *why, const char *field, const char *v)
{
    const char *at = strchr (v, '@');
    const char *dot = at ? strrchr (at, '.') : NULL;
    if (strlen (v) > 254 || !at || at == v || strchr (at + 1, '@') || !dot
        || dot == at + 1 || !dot[1] || strpbrk (v, " \t,;<>")) {
        return s_fail (why, field, "\"%.60s\" is not an e-mail address", v);
    }
    return true;
}

//  A token: letters, digits, '_' and '-' (site ids, MRNs, languages).
static bool
s_token (const char *s, size_t max)
{
    size_t n = strlen (s);
    if (n == 0 || n > max) {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (!isalnum ((unsigned char) *c) && *c != '_' && *c != '-') {
            return false;
        }
    }
    return true;
}

//  BCP 47, loosely: a 2-3 letter language, then up to 3 subtags of 2-8
//  letters or digits ("en", "es-MX", "zh-Hant-TW").
static bool
s_language (const char *s)
{
    size_t n = strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
    if (n < 2 || n > 3) {
        return false;
    }
    s += n;
    for (int subtags = 0; *s; subtags++) {
        if (*s != '-' || subtags == 3) {
            return false;
        }
        s++;
        size_t m = 0;
        while (isalnum ((unsigned char) s[m])) {
            m++;
        }
        if (m < 2 || m > 8) {
            return false;
        }
        s += m;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Checks a full patient record.
bool
pat_validate (const Pm__Patients__Patient *p, const char *today,
              pat_invalid_t *why)
{
    char field[96];
    const Pm__Patients__HumanName *name = p->name;
    if (!name) {
        return s_fail (why, "patient.name", "is required");
    }
    if (!s_text (why, "patient.name.family", name->family, true, NAME_MAX_CHARS)) {
        return false;
    }
    if (name->n_given == 0) {
        return s_fail (why, "patient.name.given", "needs at least one given name");
    }
    if (name->n_given > GIVEN_MAX) {
        return s_fail (why, "patient.name.given", "at most %d given names",
                       GIVEN_MAX);
    }
    for (size_t i = 0; i < name->n_given; i++) {
        snprintf (field, sizeof field, "patient.name.given[%zu]", i);
        if (!s_text (why, field, name->given[i], true, NAME_MAX_CHARS)) {
            return false;
        }
    }
    if (!s_text (why, "patient.name.prefix", name->prefix, false, 20)
        || !s_text (why, "patient.name.suffix", name->suffix, false, 20)) {
        return false;
    }
    if (!p->birth_date) {
        return s_fail (why, "patient.birth_date", "is required (YYYY-MM-DD)");
    }
    if (!pat_valid_date (p->birth_date)) {
        return s_fail (why, "patient.birth_date",
                       "\"%.20s\" is not a date written YYYY-MM-DD", p->birth_date);
    }
    if (strcmp (p->birth_date, today) > 0) {
        return s_fail (why, "patient.birth_date", "%s is in the future",
                       p->birth_date);
    }
    if (strcmp (p->birth_date, "1880-01-01") < 0) {
        return s_fail (why, "patient.birth_date", "%s is before 1880",
                       p->birth_date);
    }
    if (p->has_sex && (p->sex < PM__PATIENTS__SEX__SEX_UNSET
                       || p->sex > PM__PATIENTS__SEX__UNKNOWN)) {
        return s_fail (why, "patient.sex", "unknown value %d", (int) p->sex);
    }
    if (!s_text (why, "patient.gender_identity", p->gender_identity, false, 64)) {
        return false;
    }
    if (p->n_telecom > TELECOM_MAX) {
        return s_fail (why, "patient.telecom", "at most %d contact points",
                       TELECOM_MAX);
    }
    for (size_t i = 0; i < p->n_telecom; i++) {
        const Pm__Patients__ContactPoint *cp = p->telecom[i];
        snprintf (field, sizeof field, "patient.telecom[%zu].value", i);
        if (!s_text (why, field, cp->value, true, 254)) {
            return false;
        }
        bool ok;
        switch (cp->has_system ? cp->system : 0) {
        case PM__PATIENTS__CONTACT_SYSTEM__PHONE:
        case PM__PATIENTS__CONTACT_SYSTEM__SMS:
            ok = s_phone (why, field, cp->value);
            break;
        case PM__PATIENTS__CONTACT_SYSTEM__EMAIL:
            ok = s_email (why, field, cp->value);
            break;
        default:
            snprintf (field, sizeof field, "patient.telecom[%zu].system", i);
            ok = s_fail (why, field, "is required: PHONE, EMAIL or SMS");
        }
        if (!ok) {
            return false;
        }
        snprintf (field, sizeof field, "patient.telecom[%zu].use", i);
        if (!s_text (why, field, cp->use, false, 20)) {
            return false;
        }
    }
    if (p->address) {
        const Pm__Patients__Address *a = p->address;
        if (a->n_lines > ADDRESS_LINES_MAX) {
            return s_fail (why, "patient.address.lines", "at most %d lines",
                           ADDRESS_LINES_MAX);
        }
        for (size_t i = 0; i < a->n_lines; i++) {
            snprintf (field, sizeof field, "patient.address.lines[%zu]", i);
            if (!s_text (why, field, a->lines[i], true, 200)) {
                return false;
            }
        }
        if (!s_text (why, "patient.address.city", a->city, false, 100)
            || !s_text (why, "patient.address.district", a->district, false, 100)
            || !s_text (why, "patient.address.state", a->state, false, 100)
            || !s_text (why, "patient.address.postal_code", a->postal_code,
                        false, 20)) {
            return false;
        }
        if (a->country && (strlen (a->country) != 2 || !isupper ((unsigned char) a->country[0])
                           || !isupper ((unsigned char) a->country[1]))) {
            return s_fail (why, "patient.address.country",
                           "\"%.10s\" is not an ISO 3166-1 alpha-2 code (e.g. \"US\")",
                           a->country);
        }
    }
    if (p->preferred_language && !s_language (p->preferred_language)) {
        return s_fail (why, "patient.preferred_language",
                       "\"%.40s\" is not a BCP 47 language tag (e.g. \"en\", \"es-MX\")",
                       p->preferred_language);
    }
    if (!p->home_site || !*p->home_site) {
        return s_fail (why, "patient.home_site", "is required");
    }
    if (!s_token (p->home_site, 64)) {
        return s_fail (why, "patient.home_site",
                       "a site id is 1 to 64 letters, digits, '_' or '-'");
    }
    if (p->n_mrns > MRNS_MAX) {
        return s_fail (why, "patient.mrns", "at most %d MRNs", MRNS_MAX);
    }
    for (size_t i = 0; i < p->n_mrns; i++) {
        const Pm__Patients__SiteMrn *m = p->mrns[i];
        snprintf (field, sizeof field, "patient.mrns[%zu].site_id", i);
        if (!m->site_id || !s_token (m->site_id, 64)) {
            return s_fail (why, field,
                           "a site id is 1 to 64 letters, digits, '_' or '-'");
        }
        snprintf (field, sizeof field, "patient.mrns[%zu].mrn", i);
        if (!m->mrn || !s_token (m->mrn, 32)) {
            return s_fail (why, field,
                           "an MRN is 1 to 32 letters, digits, '_' or '-'");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp (p->mrns[j]->site_id, m->site_id) == 0) {
                snprintf (field, sizeof field, "patient.mrns[%zu].site_id", i);
                return s_fail (why, field, "site %s has two MRNs", m->site_id);
            }
        }
    }
    return true;
}

//  Latin-1 supplement letters (U+00C0..U+00FF) folded to ASCII; '\0' for
//  characters that are not letters (dropped, like punctuation).
static const char s_latin1_fold[64] = "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyts"
                                      "aaaaaaaceeeeiiii" "dnooooo\0ouuuuyty";

//  --------------------------------------------------------------------------
//  Folds a name for search: "Ægir-Müller" and "muller" share a prefix.
void
pat_fold_name (const char *in, char *out, size_t outlen)
{
    size_t at = 0;
    const unsigned char *c = (const unsigned char *) in;
    while (*c && at + 1 < outlen) {
        if (*c < 0x80) {
            if (isalnum (*c)) {
                out[at++] = (char) tolower (*c);
            }
            c++;
        }
        else if ((*c == 0xc3) && c[1] >= 0x80 && c[1] <= 0xbf) {
            char f = s_latin1_fold[c[1] - 0x80];
            if (f) {
                out[at++] = f;
            }
            c += 2;
        }
        else {
            //  Other scripts: kept byte for byte, so they still match
            //  themselves exactly.
            out[at++] = (char) *c++;
        }
    }
    out[at] = 0;
}

//  --------------------------------------------------------------------------
//  The digits of a phone number.
void
pat_phone_digits (const char *in, char *out, size_t outlen)
{
    size_t at = 0;
    for (const char *c = in; c && *c && at + 1 < outlen; c++) {
        if (isdigit ((unsigned char) *c)) {
            out[at++] = *c;
        }
    }
    out[at] = 0;
}
