/* peer.c -- C helpers of the Go peer. Casting an integer context to the void * HCS passes back, and handing HCS a
 * pointer to an exported Go function, are both simplest on the C side (hcsshim does the same with uintptr contexts
 * and syscall.NewCallback on Windows). */
#include "peer.h"
#include "_cgo_export.h"

HCS_OPERATION peer_create_operation(uintptr_t context)
{
    return HcsCreateOperation((const void *)context, goOperationCompleted);
}

HRESULT peer_set_system_callback(HCS_SYSTEM system, uintptr_t context)
{
    return HcsSetComputeSystemCallback(system, HcsEventOptionNone, (const void *)context, goEventCallback);
}

int64_t peer_trigger_exits(char **ids, int64_t n)
{
    int64_t found = 0;
    for (int64_t i = 0; i < n; i++)
        if (FakeHcsSimulateUnexpectedExit(ids[i], 1) == 0) found++;
    return found;
}
