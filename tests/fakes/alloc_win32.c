/* alloc_win32.c -- result strings of the Windows build (replaces alloc.c there; build_windows.py picks it).
 *
 * HCS result documents "must be released using LocalFree" (HcsGetOperationResult.md and the other pages alloc.c
 * cites). On Windows the caller's LocalFree is the real one in kernel32, so a string must be exactly a
 * LocalAlloc(LMEM_FIXED) block: no header in front of it (alloc.c's magic header would make LocalFree free a
 * pointer LocalAlloc never returned), and the fake never sees the free.
 *
 * The outstanding count (FakeHcsGetCounters, leak checks) is therefore measured instead of counted: every string
 * handed out is recorded with its size and a hash of its bytes, and a string still counts as outstanding when the
 * process heap says its block is in use (HeapValidate), with the same size and the same bytes. A freed block whose
 * address was reused by an unrelated allocation fails the size or hash check; an address the fake itself gets
 * back from LocalAlloc proves the earlier string there was freed. Double frees and foreign pointers are the real
 * LocalFree's business here (alloc.c diagnoses them off Windows).
 */
#include <stdlib.h>
#include <string.h>

#include "fake.h"

typedef struct str_record {
    void *p;
    size_t bytes;
    uint64_t hash;
} str_record;

static plat_mutex *alloc_lock;
static str_record *live;
static size_t nlive, caplive;

static uint64_t fnv1a(const void *data, size_t len)
{
    const unsigned char *b = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void alloc_init_once(void)
{
    if (!alloc_lock) alloc_lock = plat_mutex_create();
}

PWSTR result_from_utf8(const char *utf8)
{
    size_t units = 0, bytes;
    char16_t *w;
    PWSTR data;
    if (!utf8) return NULL;
    fake_init();
    w = utf8_to_utf16(utf8, &units);
    if (!w) abort();
    bytes = (units + 1) * sizeof(WCHAR);
    data = plat_result_alloc(bytes);
    if (!data) abort();
    memcpy(data, w, bytes);
    free(w);
    plat_mutex_lock(alloc_lock);
    for (size_t i = 0; i < nlive;)
        if (live[i].p == data) live[i] = live[--nlive];   /* the heap handed the address out again: freed */
        else i++;
    if (nlive == caplive) {
        size_t ncap = caplive ? caplive * 2 : 64;
        str_record *n = realloc(live, ncap * sizeof *n);
        if (!n) abort();
        live = n;
        caplive = ncap;
    }
    live[nlive].p = data;
    live[nlive].bytes = bytes;
    live[nlive].hash = fnv1a(data, bytes);
    nlive++;
    plat_mutex_unlock(alloc_lock);
    return data;
}

void alloc_reset(void)
{
    alloc_init_once();
    plat_mutex_lock(alloc_lock);
    nlive = 0;   /* strings handed out before a reset are not counted (as alloc.c's epochs) */
    plat_mutex_unlock(alloc_lock);
}

int64_t alloc_outstanding(void)
{
    HANDLE heap = GetProcessHeap();
    int64_t n;
    alloc_init_once();
    plat_mutex_lock(alloc_lock);
    /* With the heap locked no block changes state between the check and the read of its bytes. */
    HeapLock(heap);
    for (size_t i = 0; i < nlive;) {
        str_record *r = &live[i];
        int in_use = HeapValidate(heap, 0, r->p) && HeapSize(heap, 0, r->p) == r->bytes &&
                     fnv1a(r->p, r->bytes) == r->hash;
        if (in_use) i++;
        else live[i] = live[--nlive];
    }
    HeapUnlock(heap);
    n = (int64_t)nlive;
    plat_mutex_unlock(alloc_lock);
    return n;
}

/* Called from fake_init. */
void alloc_init(void) { alloc_init_once(); }
