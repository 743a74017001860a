/* handles.c -- the table of open HCS_OPERATION / HCS_SYSTEM / HCS_PROCESS handles (client side).
 *
 * Handle values are opaque numbers that are never reused, so a stale or foreign handle is recognised and fails
 * with E_HANDLE (HRESULT_FROM_WIN32(ERROR_INVALID_HANDLE), which hcsshim v2/errors.go expects for "a handle that
 * has already been closed") instead of touching freed memory. Objects are reference counted: an operation stays
 * alive after HcsCloseOperation until its work and its callback are done. Everything here runs under g_lock. */
#include <stdlib.h>

#include "fake.h"

static hobj **table;
static size_t count, cap;
static uintptr_t next_value = 0x1000;

uintptr_t handle_insert(hobj *o)
{
    if (count == cap) {
        size_t ncap = cap ? cap * 2 : 64;
        hobj **n = realloc(table, ncap * sizeof *n);
        if (!n) abort();
        table = n;
        cap = ncap;
    }
    next_value += 0x10;
    o->value = next_value;
    o->refs = 1;
    table[count++] = o;
    return o->value;
}

hobj *handle_find(uintptr_t value, hkind kind)
{
    if (value == 0) return NULL;
    for (size_t i = 0; i < count; i++)
        if (table[i]->value == value) return table[i]->kind == kind ? table[i] : NULL;
    return NULL;
}

static void free_obj(hobj *o)
{
    if (o->kind == HK_OP) {
        op_obj *op = (op_obj *)o;
        free(op->doc);
        if (op->has_pinfo) {
            plat_close(op->pinfo.in);
            plat_close(op->pinfo.out);
            plat_close(op->pinfo.err);
        }
    }
    free(o);
}

void obj_retain(hobj *o) { o->refs++; }

void obj_release(hobj *o)
{
    if (--o->refs == 0) free_obj(o);
}

void handle_remove(hobj *o)
{
    for (size_t i = 0; i < count; i++)
        if (table[i] == o) {
            table[i] = table[--count];
            obj_release(o);
            return;
        }
}

size_t handles_count(void) { return count; }
hobj *handles_at(size_t i) { return table[i]; }

void handles_clear(void)
{
    while (count > 0) {
        hobj *o = table[--count];
        obj_release(o);
    }
}

evreg *handle_evreg(hobj *o)
{
    if (o->kind == HK_SYS) return &((sys_handle *)o)->reg;
    if (o->kind == HK_PROC) return &((proc_handle *)o)->reg;
    return NULL;
}
