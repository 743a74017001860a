/* computecore_newer.h -- what the Windows build of the fake needs from ComputeCore.h / ComputeDefs.h of the newest
 * Windows SDK and Debian's mingw-w64 headers (an older SDK) lack. build_windows.py force-includes it (-include) after
 * <windows.h>, <computecore.h> and <computestorage.h>, so every exported definition of the fake is checked by the
 * compiler against a declaration: the SDK's own where mingw-w64 has it, these otherwise.
 *
 * Each declaration is identical to src/pyhcs/_ffi/decl/computecore.h and computedefs.h (which are copied from the
 * newest SDK); tests/test_ffi_declarations.py compares those with the real header. mingw-w64 cannot grow an existing
 * enum from outside, so the enumerators it lacks are macros of the enum's type with the SDK's value.
 */
#ifndef FAKEHCS_COMPUTECORE_NEWER_H
#define FAKEHCS_COMPUTECORE_NEWER_H

#include <windows.h>
#include <computecore.h>
#include <computestorage.h>

/* ComputeDefs.h: enumerators of existing enums */
#define HcsOperationTypeReserved1 ((HCS_OPERATION_TYPE)16)
#define HcsOperationTypeReserved2 ((HCS_OPERATION_TYPE)17)
#define HcsOperationTypeReserved3 ((HCS_OPERATION_TYPE)18)
#define HcsOperationTypeLiveMigration ((HCS_OPERATION_TYPE)19)
#define HcsEventGroupVmLifecycle ((HCS_EVENT_TYPE)0x80000002u)
#define HcsEventGroupLiveMigration ((HCS_EVENT_TYPE)0x80000003u)
#define HcsEventGroupOperationInfo ((HCS_EVENT_TYPE)0xC0000001u)
#define HcsEventOptionEnableVmLifecycle ((HCS_EVENT_OPTIONS)0x00000002)
#define HcsEventOptionEnableLiveMigrationEvents ((HCS_EVENT_OPTIONS)0x00000004)
#define HcsNotificationOperationProgressUpdate ((HCS_NOTIFICATIONS)0x00000100)

/* ComputeDefs.h: new types */
typedef enum HCS_OPERATION_OPTIONS {
  HcsOperationOptionNone = 0x00000000,
  HcsOperationOptionProgressUpdate = 0x00000001,
  HcsOperationOptionReserved1 = 0x00000002
} HCS_OPERATION_OPTIONS;

typedef enum HCS_RESOURCE_TYPE {
  HcsResourceTypeNone = 0,
  HcsResourceTypeFile = 1,
  HcsResourceTypeJob = 2,
  HcsResourceTypeComObject = 3,
  HcsResourceTypeSocket = 4
} HCS_RESOURCE_TYPE;

/* ComputeCore.h: newer functions */
HCS_OPERATION WINAPI HcsCreateOperationWithNotifications(HCS_OPERATION_OPTIONS eventTypes, const void *context, HCS_EVENT_CALLBACK callback);
HRESULT WINAPI HcsAddResourceToOperation(HCS_OPERATION operation, HCS_RESOURCE_TYPE type, PCWSTR uri, HANDLE handle);
HRESULT WINAPI HcsGetOperationProperties(HCS_OPERATION operation, PCWSTR options, PWSTR *resultDocument);
HRESULT WINAPI HcsInitializeLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HRESULT WINAPI HcsStartLiveMigrationOnSource(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HRESULT WINAPI HcsStartLiveMigrationTransfer(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);
HRESULT WINAPI HcsFinalizeLiveMigration(HCS_SYSTEM computeSystem, HCS_OPERATION operation, PCWSTR options);

/* ComputeStorage.h: newer functions */
HRESULT WINAPI HcsAttachOverlayFilter(PCWSTR VolumeMountPoint, PCWSTR LayerData);
HRESULT WINAPI HcsDetachOverlayFilter(PCWSTR VolumeMountPoint, PCWSTR LayerData);

#endif
