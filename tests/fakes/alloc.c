/* alloc.c -- result strings handed to the caller, and the LocalFree that takes them back.
 *
 * HCS result documents "must be released using LocalFree" (HcsGetOperationResult.md, HcsWaitForOperationResult.md,
 * HcsWaitForComputeSystemExit.md, HcsWaitForProcessExit.md, HcsGetLayerVhdMountPath.md). Off Windows the fake
 * exports LocalFree itself. Every string carries a header with a magic number and is recorded in a registry, so
 * LocalFree of a pointer the fake did not allocate, or a second LocalFree of the same string, aborts with a clear
 * message instead of corrupting the heap. The outstanding count feeds FakeHcsGetCounters (leak checks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

#define LIVE_MAGIC 0x5354524C41464B48ull   /* "HKFALRTS" */
#define DEAD_MAGIC 0x444145444641464Bull

typedef struct str_header {
    uint64_t magic;
    uint64_t epoch;
} str_header;

static plat_mutex *alloc_lock;
static void **live;          /* registry of live strings (data pointers) */
static size_t nlive, caplive;
static uint64_t epoch = 1;
static int64_t outstanding;  /* live strings allocated since the last reset */
#define RECENT 4096
static void *recent_freed[RECENT];
static size_t recent_pos;

static void alloc_init_once(void)
{
    if (!alloc_lock) alloc_lock = plat_mutex_create();
}

PWSTR result_from_utf8(const char *utf8)
{
    size_t units = 0;
    char16_t *w;
    str_header *h;
    PWSTR data;
    if (!utf8) return NULL;
    fake_init();
    w = utf8_to_utf16(utf8, &units);
    if (!w) abort();
    h = plat_result_alloc(sizeof *h + (units + 1) * sizeof(WCHAR));
    if (!h) abort();
    h->magic = LIVE_MAGIC;
    data = (PWSTR)(h + 1);
    memcpy(data, w, (units + 1) * sizeof(WCHAR));
    free(w);
    plat_mutex_lock(alloc_lock);
    h->epoch = epoch;
    if (nlive == caplive) {
        size_t ncap = caplive ? caplive * 2 : 64;
        void **n = realloc(live, ncap * sizeof *n);
        if (!n) abort();
        live = n;
        caplive = ncap;
    }
    live[nlive++] = data;
    outstanding++;
    plat_mutex_unlock(alloc_lock);
    return data;
}

#if !defined(_WIN32)
/* kernel32 LocalFree: returns NULL on success. */
FAKE_EXPORT HLOCAL WINAPI LocalFree(HLOCAL hMem)
{
    str_header *h;
    int found = 0, recently_freed = 0;
    if (hMem == NULL) return NULL;
    fake_init();
    plat_mutex_lock(alloc_lock);
    for (size_t i = 0; i < nlive; i++)
        if (live[i] == hMem) {
            live[i] = live[--nlive];
            found = 1;
            break;
        }
    if (!found)
        for (size_t i = 0; i < RECENT; i++)
            if (recent_freed[i] == hMem) recently_freed = 1;
    if (!found) {
        plat_mutex_unlock(alloc_lock);
        if (recently_freed)
            fprintf(stderr, "fakehcs: LocalFree(%p): double free -- this result string was already freed with "
                            "LocalFree\n", hMem);
        else
            fprintf(stderr, "fakehcs: LocalFree(%p): this pointer was not allocated by the fake HCS (LocalFree "
                            "only frees result strings returned by HCS functions)\n", hMem);
        fflush(stderr);
        abort();
    }
    h = (str_header *)hMem - 1;
    if (h->magic != LIVE_MAGIC) {
        plat_mutex_unlock(alloc_lock);
        fprintf(stderr, "fakehcs: LocalFree(%p): the string header is corrupted (buffer underflow?)\n", hMem);
        fflush(stderr);
        abort();
    }
    if (h->epoch == epoch) outstanding--;
    recent_freed[recent_pos++ % RECENT] = hMem;
    h->magic = DEAD_MAGIC;
    plat_mutex_unlock(alloc_lock);
    plat_result_free(h);
    return NULL;
}
#endif

void alloc_reset(void)
{
    alloc_init_once();
    plat_mutex_lock(alloc_lock);
    epoch++;
    outstanding = 0;
    plat_mutex_unlock(alloc_lock);
}

int64_t alloc_outstanding(void)
{
    int64_t n;
    alloc_init_once();
    plat_mutex_lock(alloc_lock);
    n = outstanding;
    plat_mutex_unlock(alloc_lock);
    return n;
}

/* Called from fake_init. */
void alloc_init(void) { alloc_init_once(); }
