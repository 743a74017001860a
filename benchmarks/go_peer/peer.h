/* peer.h -- the C side of the Go peer: the HCS and fake-control declarations pyhcs itself uses, and the few C helpers
 * of peer.c. Declarations only (a cgo preamble of a file with //export may not define anything). */
#ifndef PYHCS_GOPEER_H
#define PYHCS_GOPEER_H

#include <stdint.h>
#include <stdlib.h>
#include <uchar.h>

#define WINAPI
#include "windows_types.h"
#include "computedefs.h"
#include "computecore.h"
#include "kernel32.h"
#include "fakehcs_control.h"

/* HcsCreateOperation with the one exported completion callback and an integer context. */
HCS_OPERATION peer_create_operation(uintptr_t context);

/* HcsSetComputeSystemCallback with the one exported event callback and an integer context. */
HRESULT peer_set_system_callback(HCS_SYSTEM system, uintptr_t context);

/* FakeHcsSimulateUnexpectedExit for each id, in C: the same trigger loop as benchmarks/c_driver.c's
 * drv_trigger_exits, so the Go figure and the Python figures start the clock on identical work. */
int64_t peer_trigger_exits(char **ids, int64_t n);

#endif
