/* wire.c -- message encoding of the fake HCS service protocol (wire.h). Every read is bounds-checked: a message
 * from a peer is untrusted input (the service must survive malformed and truncated messages). */
#include "wire.h"

#include <stdlib.h>
#include <string.h>

void wire_init(wire_msg *m, uint16_t kind, uint64_t id)
{
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->id = id;
    for (int i = 0; i < WIRE_MAX_HANDLES; i++) m->fds[i] = PLAT_NO_FD;
}

void wire_free(wire_msg *m)
{
    free(m->data);
    m->data = NULL;
    m->len = m->cap = m->pos = 0;
    for (int i = 0; i < m->nfds; i++) {
        plat_close(m->fds[i]);
        m->fds[i] = PLAT_NO_FD;
    }
    m->nfds = 0;
}

void wire_move(wire_msg *dst, wire_msg *src)
{
    *dst = *src;
    wire_init(src, 0, 0);
}

static void reserve(wire_msg *m, size_t more)
{
    size_t need = m->len + more;
    if (need <= m->cap) return;
    {
        size_t cap = m->cap ? m->cap : 256;
        unsigned char *d;
        while (cap < need) cap *= 2;
        d = realloc(m->data, cap);
        if (!d) abort();
        m->data = d;
        m->cap = cap;
    }
}

static void put_le(wire_msg *m, uint64_t v, int bytes)
{
    reserve(m, (size_t)bytes);
    for (int i = 0; i < bytes; i++) m->data[m->len++] = (unsigned char)(v >> (8 * i));
}

void wire_put_u8(wire_msg *m, uint8_t v) { put_le(m, v, 1); }
void wire_put_u16(wire_msg *m, uint16_t v) { put_le(m, v, 2); }
void wire_put_u32(wire_msg *m, uint32_t v) { put_le(m, v, 4); }
void wire_put_u64(wire_msg *m, uint64_t v) { put_le(m, v, 8); }
void wire_put_i32(wire_msg *m, int32_t v) { put_le(m, (uint32_t)v, 4); }
void wire_put_i64(wire_msg *m, int64_t v) { put_le(m, (uint64_t)v, 8); }

void wire_put_str(wire_msg *m, const char *s)
{
    size_t n;
    if (!s) {
        wire_put_u32(m, WIRE_NULL_STRING);
        return;
    }
    n = strlen(s);
    if (n >= WIRE_NULL_STRING) abort();   /* never: every document is far below 4 GiB */
    wire_put_u32(m, (uint32_t)n);
    reserve(m, n);
    memcpy(m->data + m->len, s, n);
    m->len += n;
}

static uint64_t get_le(wire_msg *m, int bytes)
{
    uint64_t v = 0;
    if (m->bad || m->len - m->pos < (size_t)bytes) {
        m->bad = 1;
        return 0;
    }
    for (int i = 0; i < bytes; i++) v |= (uint64_t)m->data[m->pos++] << (8 * i);
    return v;
}

uint8_t wire_get_u8(wire_msg *m) { return (uint8_t)get_le(m, 1); }
uint16_t wire_get_u16(wire_msg *m) { return (uint16_t)get_le(m, 2); }
uint32_t wire_get_u32(wire_msg *m) { return (uint32_t)get_le(m, 4); }
uint64_t wire_get_u64(wire_msg *m) { return get_le(m, 8); }
int32_t wire_get_i32(wire_msg *m) { return (int32_t)(uint32_t)get_le(m, 4); }
int64_t wire_get_i64(wire_msg *m) { return (int64_t)get_le(m, 8); }

char *wire_get_str(wire_msg *m)
{
    uint32_t n = wire_get_u32(m);
    char *s;
    if (m->bad || n == WIRE_NULL_STRING) return NULL;
    if (m->len - m->pos < n || memchr(m->data + m->pos, 0, n)) {
        m->bad = 1;
        return NULL;
    }
    s = malloc((size_t)n + 1);
    if (!s) abort();
    memcpy(s, m->data + m->pos, n);
    s[n] = 0;
    m->pos += n;
    return s;
}

int wire_complete(const wire_msg *m) { return !m->bad && m->pos == m->len; }

void wire_header_encode(const wire_msg *m, unsigned char out[WIRE_HEADER_SIZE])
{
    uint32_t len = (uint32_t)m->len;
    uint16_t handles = (uint16_t)m->nfds;
    for (int i = 0; i < 4; i++) out[i] = (unsigned char)(len >> (8 * i));
    out[4] = (unsigned char)m->kind;
    out[5] = (unsigned char)(m->kind >> 8);
    out[6] = (unsigned char)handles;
    out[7] = (unsigned char)(handles >> 8);
    for (int i = 0; i < 8; i++) out[8 + i] = (unsigned char)(m->id >> (8 * i));
}

int wire_header_decode(const unsigned char in[WIRE_HEADER_SIZE], uint32_t *length, wire_msg *m)
{
    uint32_t len = 0;
    uint64_t id = 0;
    for (int i = 0; i < 4; i++) len |= (uint32_t)in[i] << (8 * i);
    for (int i = 0; i < 8; i++) id |= (uint64_t)in[8 + i] << (8 * i);
    wire_init(m, (uint16_t)(in[4] | in[5] << 8), id);
    m->handles = (uint16_t)(in[6] | in[7] << 8);
    *length = len;
    if (len > WIRE_MAX_PAYLOAD || m->handles > WIRE_MAX_HANDLES) return -1;
    return 0;
}
