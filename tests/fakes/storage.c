/* storage.c -- a plausible fake of computestorage.dll: container layers are plain directories.
 *
 * Import copies a folder into the layer, export copies it out, destroy removes it, initialize creates a writable
 * layer folder; attach/detach of the storage and overlay filters only track state. Paths are host paths (UTF-16 in,
 * UTF-8 on POSIX). Errors: missing inputs -> HRESULT_FROM_WIN32(ERROR_PATH_NOT_FOUND); invalid LayerData/options
 * JSON -> HCS_E_INVALID_JSON; a layer that exists already -> ERROR_ALREADY_EXISTS; destroying a layer with an
 * attached filter -> ERROR_BUSY; detaching what is not attached -> ERROR_NOT_FOUND; bad VHD handles ->
 * ERROR_INVALID_HANDLE (all "choice": the reference pages only say "returns HRESULT"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

typedef struct path_set {
    char **items;
    size_t count, cap;
} path_set;

static plat_mutex *st_lock;
static path_set storage_filters, overlay_filters;

void storage_init(void) { st_lock = plat_mutex_create(); }

static int set_has(path_set *s, const char *p)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->items[i], p) == 0) return 1;
    return 0;
}

static void set_add(path_set *s, const char *p)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **n = realloc(s->items, cap * sizeof *n);
        if (!n) abort();
        s->items = n;
        s->cap = cap;
    }
    s->items[s->count] = malloc(strlen(p) + 1);
    if (!s->items[s->count]) abort();
    strcpy(s->items[s->count++], p);
}

static int set_remove(path_set *s, const char *p)
{
    for (size_t i = 0; i < s->count; i++)
        if (strcmp(s->items[i], p) == 0) {
            free(s->items[i]);
            s->items[i] = s->items[--s->count];
            return 1;
        }
    return 0;
}

static void set_clear(path_set *s)
{
    for (size_t i = 0; i < s->count; i++) free(s->items[i]);
    s->count = 0;
}

void storage_reset(void)
{
    plat_mutex_lock(st_lock);
    set_clear(&storage_filters);
    set_clear(&overlay_filters);
    plat_mutex_unlock(st_lock);
}

/* A path argument: required (E_INVALIDARG when NULL/empty). */
static char *path_arg(PCWSTR p, int32_t *hr)
{
    char *s;
    if (*hr) return NULL;
    s = wide_to_utf8(p, hr);
    if (!*hr && (!s || !s[0])) *hr = FAKE_E_INVALIDARG;
    if (*hr) {
        free(s);
        return NULL;
    }
    return s;
}

/* A JSON document argument (LayerData, options): optional unless required; must be an object. */
static json_value *doc_arg(PCWSTR p, int required, int32_t *hr)
{
    char *s;
    json_value *v;
    if (*hr) return NULL;
    s = wide_to_utf8(p, hr);
    if (*hr) return NULL;
    if (!s || !s[0]) {
        free(s);
        if (required) *hr = FAKE_E_INVALIDARG;
        return NULL;
    }
    v = json_parse(s, NULL, 0);
    free(s);
    if (!v || v->type != JSON_OBJECT) {
        json_free(v);
        *hr = HCS_E_INVALID_JSON;
        return NULL;
    }
    return v;
}

static void need_dir(const char *p, int32_t *hr)
{
    if (!*hr && plat_path_kind(p) != PLAT_PATH_DIR) *hr = FAKE_E_PATH_NOT_FOUND;
}

/* LayerData.Layers[].Path must exist (SchemaReference.md Layer {Id, Path, PathType}). */
static void check_layers(const json_value *layer_data, int32_t *hr)
{
    const json_value *layers = json_get(layer_data, "Layers");
    if (*hr || !layers) return;
    if (layers->type != JSON_ARRAY) {
        *hr = HCS_E_INVALID_JSON;
        return;
    }
    for (size_t i = 0; i < layers->count && !*hr; i++) {
        const char *path = json_get_string(layers->items[i], "Path");
        if (!path) *hr = HCS_E_INVALID_JSON;
        else need_dir(path, hr);
    }
}

/* Creates `path` as an empty directory (parent must exist), or accepts an existing empty one. */
static void make_layer_dir(const char *path, int32_t *hr)
{
    int kind;
    if (*hr) return;
    kind = plat_path_kind(path);
    if (kind == PLAT_PATH_FILE || (kind == PLAT_PATH_DIR && !plat_dir_is_empty(path))) *hr = FAKE_E_ALREADY_EXISTS;
    else if (kind == PLAT_PATH_NONE) {
        uint32_t e = plat_mkdir(path);
        if (e) *hr = FAKE_HRESULT_FROM_WIN32(e);
    }
}

static void copy_tree(const char *src, const char *dst, int32_t *hr)
{
    uint32_t e;
    if (*hr) return;
    e = plat_copy_tree(src, dst);
    if (e) *hr = FAKE_HRESULT_FROM_WIN32(e);
}

static void need_vhd(HANDLE h, int32_t *hr)
{
    if (!*hr && !plat_fd_valid(plat_handle_to_fd(h))) *hr = FAKE_E_HANDLE;
}

FAKE_EXPORT HRESULT WINAPI HcsImportLayer(PCWSTR layerPath, PCWSTR sourceFolderPath, PCWSTR layerData)
{
    int32_t hr = api_enter("HcsImportLayer", NULL);
    char *layer = path_arg(layerPath, &hr), *src = path_arg(sourceFolderPath, &hr);
    json_value *ld = doc_arg(layerData, 0, &hr);
    check_layers(ld, &hr);
    need_dir(src, &hr);
    make_layer_dir(layer, &hr);
    copy_tree(src, layer, &hr);
    json_free(ld);
    free(layer);
    free(src);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsExportLayer(PCWSTR layerPath, PCWSTR exportFolderPath, PCWSTR layerData, PCWSTR options)
{
    int32_t hr = api_enter("HcsExportLayer", NULL);
    char *layer = path_arg(layerPath, &hr), *dst = path_arg(exportFolderPath, &hr);
    json_value *ld = doc_arg(layerData, 0, &hr), *opt = doc_arg(options, 0, &hr);
    check_layers(ld, &hr);
    need_dir(layer, &hr);
    make_layer_dir(dst, &hr);
    copy_tree(layer, dst, &hr);
    json_free(ld);
    json_free(opt);
    free(layer);
    free(dst);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsExportLegacyWritableLayer(PCWSTR writableLayerMountPath, PCWSTR writableLayerFolderPath,
                                                        PCWSTR exportFolderPath, PCWSTR layerData)
{
    int32_t hr = api_enter("HcsExportLegacyWritableLayer", NULL);
    char *mount = path_arg(writableLayerMountPath, &hr), *folder = path_arg(writableLayerFolderPath, &hr);
    char *dst = path_arg(exportFolderPath, &hr);
    json_value *ld = doc_arg(layerData, 0, &hr);
    check_layers(ld, &hr);
    need_dir(mount, &hr);
    need_dir(folder, &hr);
    make_layer_dir(dst, &hr);
    copy_tree(folder, dst, &hr);
    json_free(ld);
    free(mount);
    free(folder);
    free(dst);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsDestroyLayer(PCWSTR layerPath)
{
    int32_t hr = api_enter("HcsDestroyLayer", NULL);
    char *layer = path_arg(layerPath, &hr);
    need_dir(layer, &hr);
    if (!hr) {
        plat_mutex_lock(st_lock);
        if (set_has(&storage_filters, layer)) hr = FAKE_E_BUSY;
        plat_mutex_unlock(st_lock);
    }
    if (!hr) {
        uint32_t e = plat_remove_tree(layer);
        if (e) hr = FAKE_HRESULT_FROM_WIN32(e);
    }
    free(layer);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsSetupBaseOSLayer(PCWSTR layerPath, HANDLE vhdHandle, PCWSTR options)
{
    int32_t hr = api_enter("HcsSetupBaseOSLayer", NULL);
    char *layer = path_arg(layerPath, &hr);
    json_value *opt = doc_arg(options, 0, &hr);
    need_dir(layer, &hr);
    need_vhd(vhdHandle, &hr);
    json_free(opt);
    free(layer);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsInitializeWritableLayer(PCWSTR writableLayerPath, PCWSTR layerData, PCWSTR options)
{
    int32_t hr = api_enter("HcsInitializeWritableLayer", NULL);
    char *layer = path_arg(writableLayerPath, &hr);
    json_value *ld = doc_arg(layerData, 1, &hr), *opt = doc_arg(options, 0, &hr);
    check_layers(ld, &hr);
    make_layer_dir(layer, &hr);
    json_free(ld);
    json_free(opt);
    free(layer);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsInitializeLegacyWritableLayer(PCWSTR writableLayerMountPath,
                                                            PCWSTR writableLayerFolderPath, PCWSTR layerData,
                                                            PCWSTR options)
{
    int32_t hr = api_enter("HcsInitializeLegacyWritableLayer", NULL);
    char *mount = path_arg(writableLayerMountPath, &hr), *folder = path_arg(writableLayerFolderPath, &hr);
    json_value *ld = doc_arg(layerData, 1, &hr), *opt = doc_arg(options, 0, &hr);
    check_layers(ld, &hr);
    need_dir(mount, &hr);
    need_dir(folder, &hr);
    json_free(ld);
    json_free(opt);
    free(mount);
    free(folder);
    return hr;
}

static HRESULT attach(const char *function, path_set *set, PCWSTR path16, PCWSTR layerData)
{
    int32_t hr = api_enter(function, NULL);
    char *path = path_arg(path16, &hr);
    json_value *ld = doc_arg(layerData, 1, &hr);
    check_layers(ld, &hr);
    need_dir(path, &hr);
    if (!hr) {
        plat_mutex_lock(st_lock);
        if (set_has(set, path)) hr = FAKE_E_ALREADY_EXISTS;
        else set_add(set, path);
        plat_mutex_unlock(st_lock);
    }
    json_free(ld);
    free(path);
    return hr;
}

static HRESULT detach(const char *function, path_set *set, PCWSTR path16)
{
    int32_t hr = api_enter(function, NULL);
    char *path = path_arg(path16, &hr);
    if (!hr) {
        plat_mutex_lock(st_lock);
        if (!set_remove(set, path)) hr = FAKE_E_NOT_FOUND;
        plat_mutex_unlock(st_lock);
    }
    free(path);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsAttachLayerStorageFilter(PCWSTR layerPath, PCWSTR layerData)
{
    return attach("HcsAttachLayerStorageFilter", &storage_filters, layerPath, layerData);
}

FAKE_EXPORT HRESULT WINAPI HcsDetachLayerStorageFilter(PCWSTR layerPath)
{
    return detach("HcsDetachLayerStorageFilter", &storage_filters, layerPath);
}

FAKE_EXPORT HRESULT WINAPI HcsAttachOverlayFilter(PCWSTR VolumeMountPoint, PCWSTR LayerData)
{
    return attach("HcsAttachOverlayFilter", &overlay_filters, VolumeMountPoint, LayerData);
}

FAKE_EXPORT HRESULT WINAPI HcsDetachOverlayFilter(PCWSTR VolumeMountPoint, PCWSTR LayerData)
{
    (void)LayerData;
    return detach("HcsDetachOverlayFilter", &overlay_filters, VolumeMountPoint);
}

FAKE_EXPORT HRESULT WINAPI HcsFormatWritableLayerVhd(HANDLE vhdHandle)
{
    int32_t hr = api_enter("HcsFormatWritableLayerVhd", NULL);
    need_vhd(vhdHandle, &hr);
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsGetLayerVhdMountPath(HANDLE vhdHandle, PWSTR *mountPath)
{
    int32_t hr = api_enter("HcsGetLayerVhdMountPath", NULL);
    char buf[96];
    if (mountPath) *mountPath = NULL;
    if (!hr && !mountPath) hr = FAKE_E_INVALIDARG;
    need_vhd(vhdHandle, &hr);
    if (!hr) {
        /* HcsGetLayerVhdMountPath.md: a volume path, freed with LocalFree. (choice: derived from the handle) */
        snprintf(buf, sizeof buf, "\\\\?\\Volume{fa4e0000-0000-0000-0000-%012llx}\\",
                 (unsigned long long)(uintptr_t)vhdHandle);
        *mountPath = result_from_utf8(buf);
    }
    return hr;
}

FAKE_EXPORT HRESULT WINAPI HcsSetupBaseOSVolume(PCWSTR layerPath, PCWSTR volumePath, PCWSTR options)
{
    int32_t hr = api_enter("HcsSetupBaseOSVolume", NULL);
    char *layer = path_arg(layerPath, &hr), *volume = path_arg(volumePath, &hr);
    json_value *opt = doc_arg(options, 0, &hr);
    need_dir(layer, &hr);
    need_dir(volume, &hr);
    json_free(opt);
    free(layer);
    free(volume);
    return hr;
}
