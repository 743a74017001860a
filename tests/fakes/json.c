/* json.c -- strict RFC 8259 JSON reader/writer and UTF-16 <-> UTF-8 conversion for the fake HCS. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 256

/* ---------------------------------------------------------------- UTF conversion */

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

char *utf16_to_utf8(const char16_t *s, int *bad)
{
    size_t n = 0, o = 0;
    char *out;
    if (bad) *bad = 0;
    if (!s) return NULL;
    while (s[n]) n++;
    out = malloc(n * 3 + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        uint32_t cp = s[i];
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (uint32_t)(s[i + 1] - 0xDC00);
            i++;
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            if (bad) *bad = 1;
            free(out);
            return NULL;
        }
        o += utf8_put(out + o, cp);
    }
    out[o] = 0;
    return out;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 on invalid input (then *cp = U+FFFD, length 1). */
static size_t utf8_get(const unsigned char *p, uint32_t *cp)
{
    if (p[0] < 0x80) { *cp = p[0]; return 1; }
    if ((p[0] & 0xE0) == 0xC0 && (p[1] & 0xC0) == 0x80) {
        *cp = ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
        if (*cp >= 0x80) return 2;
    } else if ((p[0] & 0xF0) == 0xE0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
        *cp = ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
        if (*cp >= 0x800 && !(*cp >= 0xD800 && *cp <= 0xDFFF)) return 3;
    } else if ((p[0] & 0xF8) == 0xF0 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 && (p[3] & 0xC0) == 0x80) {
        *cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) | ((uint32_t)(p[2] & 0x3F) << 6) |
              (p[3] & 0x3F);
        if (*cp >= 0x10000 && *cp <= 0x10FFFF) return 4;
    }
    *cp = 0xFFFD;
    return 0;
}

char16_t *utf8_to_utf16(const char *s, size_t *units)
{
    size_t n = strlen(s), o = 0;
    char16_t *out = malloc((n + 1) * sizeof(char16_t));
    const unsigned char *p = (const unsigned char *)s;
    if (!out) return NULL;
    while (*p) {
        uint32_t cp;
        size_t l = utf8_get(p, &cp);
        p += l ? l : 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out[o++] = (char16_t)(0xD800 + (cp >> 10));
            out[o++] = (char16_t)(0xDC00 + (cp & 0x3FF));
        } else {
            out[o++] = (char16_t)cp;
        }
    }
    out[o] = 0;
    if (units) *units = o;
    return out;
}

/* ---------------------------------------------------------------- parser */

typedef struct parser {
    const char *s;
    size_t pos;
    char *err;
    size_t err_size;
    int failed;
} parser;

static void fail(parser *p, const char *msg)
{
    if (!p->failed) {
        p->failed = 1;
        if (p->err) snprintf(p->err, p->err_size, "%s at offset %zu", msg, p->pos);
    }
}

static void skip_ws(parser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r') p->pos++;
}

static json_value *new_value(json_type t)
{
    json_value *v = calloc(1, sizeof *v);
    if (v) v->type = t;
    return v;
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static char *parse_string_raw(parser *p)
{
    size_t cap = 16, len = 0;
    char *out = malloc(cap);
    if (!out) { fail(p, "out of memory"); return NULL; }
    p->pos++; /* opening quote */
    for (;;) {
        unsigned char c = (unsigned char)p->s[p->pos];
        char tmp[4];
        size_t tl = 0;
        if (c == 0) { fail(p, "unterminated string"); free(out); return NULL; }
        if (c == '"') { p->pos++; break; }
        if (c < 0x20) { fail(p, "control character in string"); free(out); return NULL; }
        if (c == '\\') {
            char e = p->s[p->pos + 1];
            uint32_t cp;
            p->pos += 2;
            switch (e) {
            case '"': tmp[0] = '"'; tl = 1; break;
            case '\\': tmp[0] = '\\'; tl = 1; break;
            case '/': tmp[0] = '/'; tl = 1; break;
            case 'b': tmp[0] = '\b'; tl = 1; break;
            case 'f': tmp[0] = '\f'; tl = 1; break;
            case 'n': tmp[0] = '\n'; tl = 1; break;
            case 'r': tmp[0] = '\r'; tl = 1; break;
            case 't': tmp[0] = '\t'; tl = 1; break;
            case 'u':
                if (!hex4(p->s + p->pos, &cp)) { fail(p, "bad \\u escape"); free(out); return NULL; }
                p->pos += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo;
                    if (p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' || !hex4(p->s + p->pos + 2, &lo) ||
                        lo < 0xDC00 || lo > 0xDFFF) {
                        fail(p, "unpaired surrogate escape");
                        free(out);
                        return NULL;
                    }
                    p->pos += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    fail(p, "unpaired surrogate escape");
                    free(out);
                    return NULL;
                }
                tl = utf8_put(tmp, cp);
                break;
            default: p->pos -= 1; fail(p, "bad escape"); free(out); return NULL;
            }
        } else {
            uint32_t cp;
            size_t l = utf8_get((const unsigned char *)p->s + p->pos, &cp);
            if (l == 0) { fail(p, "invalid UTF-8"); free(out); return NULL; }
            memcpy(tmp, p->s + p->pos, l);
            tl = l;
            p->pos += l;
        }
        if (len + tl + 1 > cap) {
            char *n;
            cap = cap * 2 + tl;
            n = realloc(out, cap);
            if (!n) { free(out); fail(p, "out of memory"); return NULL; }
            out = n;
        }
        memcpy(out + len, tmp, tl);
        len += tl;
    }
    out[len] = 0;
    return out;
}

static json_value *parse_value(parser *p, int depth);

static int push_item(json_value *v, json_value *item, char *key)
{
    json_value **items = realloc(v->items, (v->count + 1) * sizeof *items);
    if (!items) return 0;
    v->items = items;
    if (v->type == JSON_OBJECT) {
        char **keys = realloc(v->keys, (v->count + 1) * sizeof *keys);
        if (!keys) return 0;
        v->keys = keys;
        keys[v->count] = key;
    }
    items[v->count++] = item;
    return 1;
}

static json_value *parse_number(parser *p)
{
    size_t start = p->pos;
    int is_int = 1;
    json_value *v;
    const char *s = p->s;
    if (s[p->pos] == '-') p->pos++;
    if (s[p->pos] == '0') p->pos++;
    else if (s[p->pos] >= '1' && s[p->pos] <= '9') while (s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    else { fail(p, "bad number"); return NULL; }
    if (s[p->pos] == '.') {
        is_int = 0;
        p->pos++;
        if (!(s[p->pos] >= '0' && s[p->pos] <= '9')) { fail(p, "bad number"); return NULL; }
        while (s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    if (s[p->pos] == 'e' || s[p->pos] == 'E') {
        is_int = 0;
        p->pos++;
        if (s[p->pos] == '+' || s[p->pos] == '-') p->pos++;
        if (!(s[p->pos] >= '0' && s[p->pos] <= '9')) { fail(p, "bad number"); return NULL; }
        while (s[p->pos] >= '0' && s[p->pos] <= '9') p->pos++;
    }
    v = new_value(JSON_NUMBER);
    if (!v) { fail(p, "out of memory"); return NULL; }
    if (is_int) {
        /* exact int64 parse, no locale involved */
        int neg = s[start] == '-';
        uint64_t acc = 0;
        int overflow = 0;
        for (size_t i = start + (size_t)neg; i < p->pos; i++) {
            uint64_t d = (uint64_t)(s[i] - '0');
            if (acc > (UINT64_MAX - d) / 10) overflow = 1;
            acc = acc * 10 + d;
        }
        if (!overflow && acc <= (neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX)) {
            v->is_integer = 1;
            v->integer = neg ? (int64_t)(0 - acc) : (int64_t)acc;
            v->number = (double)v->integer;
            return v;
        }
    }
    {
        char buf[64];
        size_t l = p->pos - start;
        if (l >= sizeof buf) l = sizeof buf - 1;
        memcpy(buf, s + start, l);
        buf[l] = 0;
        v->number = strtod(buf, NULL);
    }
    return v;
}

static int match_lit(parser *p, const char *lit)
{
    size_t l = strlen(lit);
    if (strncmp(p->s + p->pos, lit, l) == 0) { p->pos += l; return 1; }
    return 0;
}

static json_value *parse_value(parser *p, int depth)
{
    json_value *v = NULL;
    char c;
    if (depth > JSON_MAX_DEPTH) { fail(p, "nesting too deep"); return NULL; }
    skip_ws(p);
    c = p->s[p->pos];
    if (c == '{' || c == '[') {
        int obj = c == '{';
        v = new_value(obj ? JSON_OBJECT : JSON_ARRAY);
        if (!v) { fail(p, "out of memory"); return NULL; }
        p->pos++;
        skip_ws(p);
        if (p->s[p->pos] == (obj ? '}' : ']')) { p->pos++; return v; }
        for (;;) {
            char *key = NULL;
            json_value *item;
            skip_ws(p);
            if (obj) {
                if (p->s[p->pos] != '"') { fail(p, "expected a member name"); json_free(v); return NULL; }
                key = parse_string_raw(p);
                if (!key) { json_free(v); return NULL; }
                skip_ws(p);
                if (p->s[p->pos] != ':') { fail(p, "expected ':'"); free(key); json_free(v); return NULL; }
                p->pos++;
            }
            item = parse_value(p, depth + 1);
            if (!item) { free(key); json_free(v); return NULL; }
            if (!push_item(v, item, key)) { free(key); json_free(item); json_free(v); fail(p, "out of memory"); return NULL; }
            skip_ws(p);
            if (p->s[p->pos] == ',') { p->pos++; continue; }
            if (p->s[p->pos] == (obj ? '}' : ']')) { p->pos++; return v; }
            fail(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
            json_free(v);
            return NULL;
        }
    }
    if (c == '"') {
        char *s = parse_string_raw(p);
        if (!s) return NULL;
        v = new_value(JSON_STRING);
        if (!v) { free(s); fail(p, "out of memory"); return NULL; }
        v->string = s;
        return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p);
    if (match_lit(p, "true")) { v = new_value(JSON_BOOL); if (v) v->boolean = 1; return v; }
    if (match_lit(p, "false")) return new_value(JSON_BOOL);
    if (match_lit(p, "null")) return new_value(JSON_NULL);
    fail(p, c ? "unexpected character" : "unexpected end of document");
    return NULL;
}

json_value *json_parse(const char *text, char *err, size_t err_size)
{
    parser p = { text, 0, err, err_size, 0 };
    json_value *v;
    if (err && err_size) err[0] = 0;
    if (!text) { fail(&p, "no document"); return NULL; }
    v = parse_value(&p, 0);
    if (!v) return NULL;
    skip_ws(&p);
    if (text[p.pos] != 0) {
        fail(&p, "trailing characters after the document");
        json_free(v);
        return NULL;
    }
    return v;
}

void json_free(json_value *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->count; i++) {
        json_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    free(v);
}

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a, y = *b;
        if (x >= 'A' && x <= 'Z') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = (char)(y - 'A' + 'a');
        if (x != y) return 0;
    }
    return *a == *b;
}

const json_value *json_get(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0) return obj->items[i];
    for (size_t i = 0; i < obj->count; i++)
        if (ascii_ieq(obj->keys[i], key)) return obj->items[i];
    return NULL;
}

const char *json_get_string(const json_value *obj, const char *key)
{
    const json_value *v = json_get(obj, key);
    return v && v->type == JSON_STRING ? v->string : NULL;
}

int json_get_bool(const json_value *obj, const char *key, int def)
{
    const json_value *v = json_get(obj, key);
    return v && v->type == JSON_BOOL ? v->boolean : def;
}

int json_get_int(const json_value *obj, const char *key, int64_t *out)
{
    const json_value *v = json_get(obj, key);
    if (!v || v->type != JSON_NUMBER || !v->is_integer) return 0;
    *out = v->integer;
    return 1;
}

/* ---------------------------------------------------------------- writer */

static void jw_append(json_writer *w, const char *s, size_t n)
{
    if (w->len + n + 1 > w->cap) {
        size_t cap = (w->cap ? w->cap * 2 : 256) + n;
        char *b = realloc(w->buf, cap);
        if (!b) abort();
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void jw_sep(json_writer *w)
{
    if (w->after_key) { w->after_key = 0; return; }
    if (w->depth > 0) {
        if (!w->first[w->depth]) jw_append(w, ",", 1);
        w->first[w->depth] = 0;
    }
}

void jw_init(json_writer *w) { memset(w, 0, sizeof *w); }

static void jw_open(json_writer *w, const char *c)
{
    jw_sep(w);
    jw_append(w, c, 1);
    if (w->depth + 1 < (int)sizeof w->first) w->depth++;
    w->first[w->depth] = 1;
}

static void jw_close(json_writer *w, const char *c)
{
    jw_append(w, c, 1);
    if (w->depth > 0) w->depth--;
}

void jw_obj_begin(json_writer *w) { jw_open(w, "{"); }
void jw_obj_end(json_writer *w) { jw_close(w, "}"); }
void jw_arr_begin(json_writer *w) { jw_open(w, "["); }
void jw_arr_end(json_writer *w) { jw_close(w, "]"); }

static void jw_quoted(json_writer *w, const char *s)
{
    jw_append(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        switch (*p) {
        case '"': jw_append(w, "\\\"", 2); break;
        case '\\': jw_append(w, "\\\\", 2); break;
        case '\n': jw_append(w, "\\n", 2); break;
        case '\r': jw_append(w, "\\r", 2); break;
        case '\t': jw_append(w, "\\t", 2); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                jw_append(w, esc, 6);
            } else {
                jw_append(w, (const char *)p, 1);
            }
        }
    }
    jw_append(w, "\"", 1);
}

void jw_key(json_writer *w, const char *key)
{
    jw_sep(w);
    jw_quoted(w, key);
    jw_append(w, ":", 1);
    w->after_key = 1;
}

void jw_string(json_writer *w, const char *s)
{
    jw_sep(w);
    if (s) jw_quoted(w, s);
    else jw_append(w, "null", 4);
}

void jw_int(json_writer *w, int64_t v)
{
    char b[32];
    jw_sep(w);
    snprintf(b, sizeof b, "%lld", (long long)v);
    jw_append(w, b, strlen(b));
}

void jw_uint(json_writer *w, uint64_t v)
{
    char b[32];
    jw_sep(w);
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    jw_append(w, b, strlen(b));
}

void jw_bool(json_writer *w, int v)
{
    jw_sep(w);
    jw_append(w, v ? "true" : "false", v ? 4 : 5);
}

void jw_null(json_writer *w)
{
    jw_sep(w);
    jw_append(w, "null", 4);
}

void jw_raw(json_writer *w, const char *json_text)
{
    jw_sep(w);
    jw_append(w, json_text, strlen(json_text));
}

void jw_value(json_writer *w, const json_value *v)
{
    char b[64];
    if (!v) { jw_null(w); return; }
    switch (v->type) {
    case JSON_NULL: jw_null(w); break;
    case JSON_BOOL: jw_bool(w, v->boolean); break;
    case JSON_NUMBER:
        if (v->is_integer) jw_int(w, v->integer);
        else {
            jw_sep(w);
            snprintf(b, sizeof b, "%.17g", v->number);
            jw_append(w, b, strlen(b));
        }
        break;
    case JSON_STRING: jw_string(w, v->string); break;
    case JSON_ARRAY:
        jw_arr_begin(w);
        for (size_t i = 0; i < v->count; i++) jw_value(w, v->items[i]);
        jw_arr_end(w);
        break;
    case JSON_OBJECT:
        jw_obj_begin(w);
        for (size_t i = 0; i < v->count; i++) {
            jw_key(w, v->keys[i]);
            jw_value(w, v->items[i]);
        }
        jw_obj_end(w);
        break;
    }
}

char *jw_finish(json_writer *w)
{
    char *out = w->buf;
    if (!out) {
        out = malloc(1);
        if (out) out[0] = 0;
    }
    jw_init(w);
    return out;
}
