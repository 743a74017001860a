/* oscompat.c -- Windows versions and the image compatibility rules of the fake HCS (see oscompat.h). */
#include "oscompat.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

#define FIRST_CONTAINER_BUILD 14393u   /* Windows Server 2016 / Windows 10 1607 (version-compatibility.md) */
#define FIRST_WINDOWS11_BUILD 22000u
#define LTSC2022 20348u
/* hcsshim osversion compatLTSCReleases: the stable-ABI LTSC builds, oldest first. */
static const uint32_t STABLE_ABI_LTSC[] = { 20348u, 26100u };

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

/* A decimal DWORD at *p (ASCII digits only, as pyhcs.compat's regex); advances *p. */
static int parse_dword(const char **p, uint32_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    if (*s < '0' || *s > '9') return -1;
    while (*s >= '0' && *s <= '9') {
        v = v * 10u + (uint64_t)(*s - '0');
        if (v > 0xFFFFFFFFull) return -1;
        s++;
    }
    *out = (uint32_t)v;
    *p = s;
    return 0;
}

static int word_is(const char *s, size_t n, const char *word)
{
    if (strlen(word) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != word[i]) return 0;
    return 1;
}

int osver_parse(const char *text, int with_sku, os_version *out)
{
    const char *p = text;
    os_version v = { 0, 0, 0, 0, 0 };
    if (!p) return -1;
    while (is_space(*p)) p++;
    if (parse_dword(&p, &v.major) || *p++ != '.' || parse_dword(&p, &v.minor) || *p++ != '.' ||
        parse_dword(&p, &v.build))
        return -1;
    if (*p == '.') {
        p++;
        if (parse_dword(&p, &v.revision)) return -1;
    }
    if (*p && !is_space(*p)) return -1;
    while (is_space(*p)) p++;
    if (*p) {
        const char *word = p;
        size_t n;
        if (!with_sku) return -1;
        while (*p && !is_space(*p)) p++;
        n = (size_t)(p - word);
        if (word_is(word, n, "client")) v.client = 1;
        else if (!word_is(word, n, "server")) return -1;
        while (is_space(*p)) p++;
        if (*p) return -1;
    }
    *out = v;
    return 0;
}

void osver_format(const os_version *v, int with_sku, char *buf, size_t size)
{
    snprintf(buf, size, "%u.%u.%u.%u%s", v->major, v->minor, v->build, v->revision,
             with_sku ? (v->client ? " client" : " server") : "");
}

/* (major, minor, build) order, as pyhcs.compat's OSVersion.build_tuple. */
static int cmp_build(const os_version *a, uint32_t major, uint32_t minor, uint32_t build)
{
    if (a->major != major) return a->major < major ? -1 : 1;
    if (a->minor != minor) return a->minor < minor ? -1 : 1;
    if (a->build != build) return a->build < build ? -1 : 1;
    return 0;
}

int osver_isolation_allows(const os_version *host, const os_version *image, int hyperv, char *why, size_t size)
{
    if (cmp_build(host, 10, 0, FIRST_CONTAINER_BUILD) < 0) {
        snprintf(why, size, "containers-need-14393: Windows containers need build 14393 or later: host %u.%u.%u, "
                 "image %u", host->major, host->minor, host->build, image->build);
        return 0;
    }
    if (hyperv) {
        if (cmp_build(image, host->major, host->minor, host->build) <= 0) return 1;
        snprintf(why, size, "hyperv-older-on-newer: Hyper-V isolation runs older images on newer hosts only: "
                 "host %u.%u.%u, image %u.%u.%u", host->major, host->minor, host->build, image->major, image->minor,
                 image->build);
        return 0;
    }
    if (host->client && cmp_build(host, 10, 0, FIRST_WINDOWS11_BUILD) < 0) {
        snprintf(why, size, "windows10-hyperv-only: Windows 10 hosts run Windows containers with Hyper-V isolation "
                 "only: host %u (Windows 10 client), image %u", host->build, image->build);
        return 0;
    }
    if (host->major != image->major || host->minor != image->minor) {
        snprintf(why, size, "process-same-major-minor: process isolation needs the same major.minor version: "
                 "host %u.%u, image %u.%u", host->major, host->minor, image->major, image->minor);
        return 0;
    }
    if (host->build < LTSC2022) {
        if (image->build == host->build) return 1;
        snprintf(why, size, "process-same-build-below-20348: process isolation needs the same build below 20348: "
                 "host %u, image %u", host->build, image->build);
        return 0;
    } else {
        /* hcsshim: the newest stable-ABI LTSC strictly below the host's build, else 20348 itself. */
        uint32_t floor = LTSC2022;
        for (size_t i = sizeof STABLE_ABI_LTSC / sizeof STABLE_ABI_LTSC[0]; i-- > 0;)
            if (host->build > STABLE_ABI_LTSC[i]) {
                floor = STABLE_ABI_LTSC[i];
                break;
            }
        if (image->build >= floor && image->build <= host->build) return 1;
        snprintf(why, size, "process-stable-abi-range: process isolation from build 20348 on runs images from the "
                 "previous stable-ABI LTSC up to the host: host %u runs %u to %u, image %u", host->build, floor,
                 host->build, image->build);
        return 0;
    }
}

/* A member by its exact name (pyhcs.compat reads a dict; json_get would also match another case). */
static const json_value *member(const json_value *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    for (size_t i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0) return obj->items[i];
    return NULL;
}

int osver_from_declaration(const char *json_text, os_version *out, char *err, size_t size)
{
    char perr[160];
    json_value *doc = json_parse(json_text, perr, sizeof perr);
    const json_value *platform, *os, *version;
    int rc = 0;
    if (!doc) {
        snprintf(err, size, "not valid JSON: %s", perr);
        return -1;
    }
    if (doc->type != JSON_OBJECT) {
        snprintf(err, size, "an image config is a JSON object");
        json_free(doc);
        return -1;
    }
    platform = doc;
    /* An image-index descriptor ({"digest", "platform": {...}}) keeps the fields one level down. */
    if (!member(doc, "os") && !member(doc, "os.version") && member(doc, "platform") &&
        member(doc, "platform")->type == JSON_OBJECT)
        platform = member(doc, "platform");
    os = member(platform, "os");
    version = member(platform, "os.version");
    if (os && os->type != JSON_NULL) {
        int windows;
        if (os->type != JSON_STRING) {
            snprintf(err, size, "its os must be a string");
            json_free(doc);
            return -1;
        }
        windows = word_is(os->string, strlen(os->string), "windows");
        if (!windows) {
            json_free(doc);
            return 0;
        }
    }
    if (!version || version->type == JSON_NULL) rc = 0;
    else if (version->type != JSON_STRING) {
        snprintf(err, size, "its os.version must be a string");
        rc = -1;
    } else if (osver_parse(version->string, 0, out) != 0) {
        snprintf(err, size, "its os.version '%.60s' is not a Windows version (major.minor.build[.revision])",
                 version->string);
        rc = -1;
    } else rc = 1;
    json_free(doc);
    return rc;
}

int osver_highest_schema_minor(uint32_t build)
{
    if (build >= 22000u) return 6;
    if (build >= 20348u) return 5;
    if (build >= 19041u) return 3;
    if (build >= 18362u) return 2;
    if (build >= 17763u) return 1;
    return 0;
}
