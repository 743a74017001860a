/* common.c -- global state of the client side: lazy initialisation, the client lock, entry checks. */
#include <stdlib.h>

#include "fake.h"

plat_mutex *g_lock;
plat_cond *g_cond;
executor *g_workers;
executor *g_dispatcher;
int64_t g_open_ops, g_open_sys, g_open_procs, g_callbacks_in_flight, g_callbacks_delivered;

void alloc_init(void);
void control_init(void);
void storage_init(void);

static void init_all(void)
{
    g_lock = plat_mutex_create();
    g_cond = plat_cond_create();
    alloc_init();
    control_init();
    storage_init();
    engine_init();
    engine_subscribe(events_sink, NULL);
    /* choice: 8 workers (operations of different systems run in parallel, one system's in order) and 4
     * dispatcher threads (callbacks of different handles in parallel, one handle's in order). In both, an idle thread
     * looks for work briefly before it sleeps (executor.c). */
    g_workers = executor_create(8, 1);
    g_dispatcher = executor_create(4, 1);
}

void fake_init(void) { plat_call_once(init_all); }

int32_t api_enter(const char *function, int32_t *async_fault)
{
    int32_t hr;
    int sync = 1;
    fake_init();
    if (async_fault) *async_fault = 0;
    /* FakeHcsSimulateServiceDisconnect: later calls fail with HCS_E_SERVICE_DISCONNECT until FakeHcsReset. */
    if (engine_is_disconnected()) return HCS_E_SERVICE_DISCONNECT;
    if (fault_take(function, &hr, &sync)) {
        if (sync || !async_fault) return hr;
        *async_fault = hr;
    }
    if (!async_fault) {
        uint32_t ms = latency_for(function);
        if (ms) plat_sleep_ms(ms);
    }
    return 0;
}

char *wide_to_utf8(PCWSTR s, int32_t *hr)
{
    int bad = 0;
    char *r;
    *hr = 0;
    if (!s) return NULL;
    r = utf16_to_utf8((const char16_t *)s, &bad);
    if (!r) *hr = bad ? FAKE_E_INVALIDARG : FAKE_E_OUTOFMEMORY;
    return r;
}
