/* json.h -- a small, strict (RFC 8259) JSON reader and writer for the fake HCS, plus UTF-16 <-> UTF-8.
 *
 * HCS documents are UTF-16 (PCWSTR). The fake converts a document to UTF-8 once (utf16_to_utf8), parses the
 * UTF-8 text into a tree, and writes its answers as UTF-8 which utf8_to_utf16 turns back into UTF-16.
 * \uXXXX escapes (surrogate pairs included) are decoded to UTF-8; unpaired surrogates are rejected.
 */
#ifndef FAKEHCS_JSON_H
#define FAKEHCS_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <uchar.h>

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    int boolean;
    double number;
    int is_integer;          /* number had no fraction/exponent and fits int64 */
    int64_t integer;
    char *string;            /* UTF-8, NUL-terminated (JSON_STRING) */
    size_t count;            /* items of an array / members of an object */
    struct json_value **items;
    char **keys;             /* object member names (UTF-8) */
} json_value;

/* Parses UTF-8 JSON text. NULL on error, with a message in err. */
json_value *json_parse(const char *text, char *err, size_t err_size);
void json_free(json_value *v);
/* Object member by name (exact match first, then ASCII case-insensitive); NULL if absent or v is no object. */
const json_value *json_get(const json_value *obj, const char *key);
/* Typed accessors: NULL/def when the member is absent or of another type. */
const char *json_get_string(const json_value *obj, const char *key);
int json_get_bool(const json_value *obj, const char *key, int def);
int json_get_int(const json_value *obj, const char *key, int64_t *out);  /* 1 if an integer was found */

/* UTF-16 (NUL-terminated) -> malloc'd UTF-8; NULL for NULL input or an unpaired surrogate (*bad set). */
char *utf16_to_utf8(const char16_t *s, int *bad);
/* UTF-8 -> malloc'd NUL-terminated UTF-16 (invalid bytes become U+FFFD). */
char16_t *utf8_to_utf16(const char *s, size_t *units);

/* Writer: appends to a growing UTF-8 buffer, inserting commas itself. */
typedef struct json_writer {
    char *buf;
    size_t len, cap;
    int depth;
    int after_key;
    unsigned char first[128];
} json_writer;

void jw_init(json_writer *w);
void jw_obj_begin(json_writer *w);
void jw_obj_end(json_writer *w);
void jw_arr_begin(json_writer *w);
void jw_arr_end(json_writer *w);
void jw_key(json_writer *w, const char *key);
void jw_string(json_writer *w, const char *s);
void jw_int(json_writer *w, int64_t v);
void jw_uint(json_writer *w, uint64_t v);
void jw_bool(json_writer *w, int v);
void jw_null(json_writer *w);
void jw_raw(json_writer *w, const char *json_text);   /* an already-serialised value */
void jw_value(json_writer *w, const json_value *v);   /* re-serialise a parsed value */
/* Returns the malloc'd text (the writer is reset). */
char *jw_finish(json_writer *w);

#endif
