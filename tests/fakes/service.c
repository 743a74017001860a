/* service.c -- service-wide exports of computecore: service properties/settings, WER reports, state files and
 * VM file access. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

#define FAKE_E_FILE_EXISTS FAKE_HR(0x80070050u)   /* HRESULT_FROM_WIN32(ERROR_FILE_EXISTS) */

static int32_t parse_required(PCWSTR text, json_value **out, char **msg_out)
{
    int32_t hr;
    char *s = wide_to_utf8(text, &hr);
    char err[160];
    *out = NULL;
    if (hr) return hr;
    if (!s) return FAKE_E_INVALIDARG;
    *out = json_parse(s, err, sizeof err);
    free(s);
    if (!*out || (*out)->type != JSON_OBJECT) {
        json_free(*out);
        *out = NULL;
        if (msg_out) *msg_out = result_error_json(HCS_E_INVALID_JSON, "The document is not a valid JSON object");
        return HCS_E_INVALID_JSON;
    }
    return 0;
}

FAKE_EXPORT HRESULT WINAPI HcsGetServiceProperties(PCWSTR propertyQuery, PWSTR *result)
{
    int32_t hr;
    char *q, *doc = NULL;
    if (result) *result = NULL;
    hr = api_enter("HcsGetServiceProperties", NULL);
    if (hr) return hr;
    if (!result) return FAKE_E_INVALIDARG;
    q = wide_to_utf8(propertyQuery, &hr);
    if (hr) return hr;
    /* HcsGetServiceProperties.md: synchronous; result ServiceProperties, or a ResultError on failure. */
    hr = engine_service_properties(q, &doc);
    free(q);
    if (hr < 0) doc = result_error_json(hr, engine_last_error());
    *result = result_from_utf8(doc);
    free(doc);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsModifyServiceSettings(PCWSTR settings, PWSTR *result)
{
    int32_t hr;
    char *text, *doc = NULL;
    if (result) *result = NULL;
    hr = api_enter("HcsModifyServiceSettings", NULL);
    if (hr) return hr;
    text = wide_to_utf8(settings, &hr);
    if (hr) return hr;
    /* HcsModifyServiceSettings.md: settings is _In_ (required); a ModificationRequest {PropertyType: CpuGroup |
     * ContainerCredentialGuard, Settings}. The change is host-wide state of the service (the engine): CPU groups
     * and Container Credential Guard instances then show in HcsGetServiceProperties. result (_Outptr_opt_): "On
     * failure, it can optionally receive an error JSON document represented by a ResultError". */
    if (!text) return FAKE_E_INVALIDARG;
    hr = engine_service_modify(text, &doc);
    free(text);
    if (hr < 0) {
        free(doc);
        doc = result_error_json(hr, engine_last_error());
    }
    if (result) *result = result_from_utf8(doc);
    free(doc);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsSubmitWerReport(PCWSTR settings)
{
    int32_t hr;
    json_value *v;
    hr = api_enter("HcsSubmitWerReport", NULL);
    if (hr) return hr;
    /* settings: a CrashReport document (HCS_EVENT.md SystemCrashReport); the fake only validates it. */
    hr = parse_required(settings, &v, NULL);
    json_free(v);
    return hr;
}

static HRESULT create_empty_file(const char *function, PCWSTR path16)
{
    int32_t hr;
    char *path;
    uint32_t e;
    hr = api_enter(function, NULL);
    if (hr) return hr;
    path = wide_to_utf8(path16, &hr);
    if (hr) return hr;
    if (!path || !path[0]) {
        free(path);
        return FAKE_E_INVALIDARG;
    }
    /* choice: an existing file is not overwritten (ERROR_FILE_EXISTS); a missing folder is ERROR_PATH_NOT_FOUND. */
    if (plat_path_kind(path) != PLAT_PATH_NONE) hr = FAKE_E_FILE_EXISTS;
    else if ((e = plat_write_file(path, "", 0)) != 0) hr = FAKE_HRESULT_FROM_WIN32(e);
    free(path);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsCreateEmptyGuestStateFile(PCWSTR guestStateFilePath)
{
    return create_empty_file("HcsCreateEmptyGuestStateFile", guestStateFilePath);
}

FAKE_EXPORT HRESULT WINAPI HcsCreateEmptyRuntimeStateFile(PCWSTR runtimeStateFilePath)
{
    return create_empty_file("HcsCreateEmptyRuntimeStateFile", runtimeStateFilePath);
}

static HRESULT file_access(const char *function, PCWSTR vmId, int need_vm, PCWSTR filePath)
{
    int32_t hr;
    char *path, *vm = NULL;
    hr = api_enter(function, NULL);
    if (hr) return hr;
    if (need_vm) {
        vm = wide_to_utf8(vmId, &hr);
        if (hr) return hr;
        if (!vm || !vm[0]) {
            free(vm);
            return FAKE_E_INVALIDARG;
        }
        free(vm);
    }
    path = wide_to_utf8(filePath, &hr);
    if (hr) return hr;
    if (!path || !path[0]) hr = FAKE_E_INVALIDARG;
    /* choice: granting access to a file that does not exist fails with ERROR_FILE_NOT_FOUND; nothing else
     * changes (POSIX has no VM group SIDs). */
    else if (plat_path_kind(path) == PLAT_PATH_NONE) hr = FAKE_E_FILE_NOT_FOUND;
    free(path);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsGrantVmAccess(PCWSTR vmId, PCWSTR filePath)
{
    return file_access("HcsGrantVmAccess", vmId, 1, filePath);
}

FAKE_EXPORT HRESULT WINAPI HcsRevokeVmAccess(PCWSTR vmId, PCWSTR filePath)
{
    return file_access("HcsRevokeVmAccess", vmId, 1, filePath);
}

FAKE_EXPORT HRESULT WINAPI HcsGrantVmGroupAccess(PCWSTR filePath)
{
    return file_access("HcsGrantVmGroupAccess", NULL, 0, filePath);
}

FAKE_EXPORT HRESULT WINAPI HcsRevokeVmGroupAccess(PCWSTR filePath)
{
    return file_access("HcsRevokeVmGroupAccess", NULL, 0, filePath);
}

/* VmProcessorRequirements {ProcessorFeatures, XsaveProcessorFeatures, CacheLineFlushSize,
 * ImplementedPhysicalAddressBits, NonArchitecturalCoreSharing} (SchemaReference.md; the document
 * HcsGetProcessorCompatibilityFromSavedState.md returns). choice: the x86-64-v3 baseline (SSE3 .. SSE4.2, POPCNT,
 * CMPXCHG16B, LZCNT, PCLMULQDQ, F16C, RDRAND; AVX, AVX2, FMA with XSAVE/XSAVEOPT), 64-byte cache line flush, 46
 * physical address bits, no core sharing reported -- a typical Hyper-V host of the last decade. */
static const char PROCESSOR_REQUIREMENTS[] =
    "{\"ProcessorFeatures\":[\"Sse3\",\"LahfSahf\",\"Ssse3\",\"Sse4_1\",\"Sse4_2\",\"Popcnt\",\"Cmpxchg16B\","
    "\"Altmovcr8\",\"Lzcnt\",\"Misalignsse\",\"Page1Gb\",\"Pclmulqdq\",\"Pcid\",\"F16C\",\"Rdrand\"],"
    "\"XsaveProcessorFeatures\":[\"Xsave\",\"Xsave_Opt\",\"Avx\",\"Avx2\",\"Fma\"],"
    "\"CacheLineFlushSize\":64,\"ImplementedPhysicalAddressBits\":46,\"NonArchitecturalCoreSharing\":\"Unreported\"}";

FAKE_EXPORT HRESULT WINAPI HcsGetProcessorCompatibilityFromSavedState(PCWSTR RuntimeFileName,
                                                                      PCWSTR *ProcessorFeaturesString)
{
    int32_t hr;
    char *path;
    if (ProcessorFeaturesString) *ProcessorFeaturesString = NULL;
    hr = api_enter("HcsGetProcessorCompatibilityFromSavedState", NULL);
    if (hr) return hr;
    path = wide_to_utf8(RuntimeFileName, &hr);
    if (hr) return hr;
    /* HcsGetProcessorCompatibilityFromSavedState.md: ProcessorFeaturesString is _Outptr_opt_ -- NULL only checks
     * the saved state; otherwise it receives a VmProcessorRequirements document (LocalFree). choice: a missing or
     * non-file path -> ERROR_FILE_NOT_FOUND. */
    if (!path || !path[0]) hr = FAKE_E_INVALIDARG;
    else if (plat_path_kind(path) != PLAT_PATH_FILE) hr = FAKE_E_FILE_NOT_FOUND;
    else if (ProcessorFeaturesString) *ProcessorFeaturesString = result_from_utf8(PROCESSOR_REQUIREMENTS);
    free(path);
    return hr;
}
