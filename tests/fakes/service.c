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
    json_value *v;
    char *err = NULL;
    const char *type;
    if (result) *result = NULL;
    hr = api_enter("HcsModifyServiceSettings", NULL);
    if (hr) return hr;
    /* ModificationRequest {PropertyType: "CpuGroup" | "ContainerCredentialGuard", Settings} */
    hr = parse_required(settings, &v, &err);
    if (!hr) {
        type = json_get_string(v, "PropertyType");
        if (!type || (strcmp(type, "CpuGroup") != 0 && strcmp(type, "ContainerCredentialGuard") != 0)) {
            hr = FAKE_E_INVALIDARG;
            err = result_error_json(hr, "ModificationRequest.PropertyType must be CpuGroup or ContainerCredentialGuard");
        }
    }
    json_free(v);
    if (result && err) *result = result_from_utf8(err);
    free(err);
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

FAKE_EXPORT HRESULT WINAPI HcsGetProcessorCompatibilityFromSavedState(PCWSTR RuntimeFileName,
                                                                      PCWSTR *ProcessorFeaturesString)
{
    int32_t hr;
    char *path;
    if (ProcessorFeaturesString) *ProcessorFeaturesString = NULL;
    hr = api_enter("HcsGetProcessorCompatibilityFromSavedState", NULL);
    if (hr) return hr;
    if (!ProcessorFeaturesString) return FAKE_E_INVALIDARG;
    path = wide_to_utf8(RuntimeFileName, &hr);
    if (hr) return hr;
    if (!path || !path[0]) hr = FAKE_E_INVALIDARG;
    else if (plat_path_kind(path) != PLAT_PATH_FILE) hr = FAKE_E_FILE_NOT_FOUND;
    else
        /* choice: an empty processor feature set, as a LocalFree-able string */
        *ProcessorFeaturesString = result_from_utf8("{\"ProcessorFeatures\":[]}");
    free(path);
    return hr;
}
