/* oscompat.h -- Windows versions and the rules by which HCS refuses a container image whose OS does not fit
 * (0xC0370101, "The container operating system does not match the host operating system", HCSHResult.md).
 *
 * The rules are pyhcs.compat's (src/pyhcs/compat/isolation.py), each from its source: Windows containers need
 * build 14393 (version-compatibility.md); process isolation on a Windows 10 client is refused (the same page's
 * Windows 10 table, the containerd/cri matrix footnote); otherwise process isolation is hcsshim's
 * osversion.CheckHostAndContainerCompat (same major.minor; below 20348 the same build; from 20348 on the previous
 * stable-ABI LTSC up to the host's build); Hyper-V isolation runs images not newer than the host (older-on-newer).
 * tests/test_fake_pods.py checks the fake's refusals against pyhcs.compat over a matrix of builds.
 *
 * How the fake learns an image's build (choice: real HCS reads the base layer itself): a layer folder declares it
 * in OSCOMPAT_LAYER_FILE, the image's OCI config or just its platform fields, read as pyhcs.compat.image_os_version
 * reads them. */
#ifndef FAKEHCS_OSCOMPAT_H
#define FAKEHCS_OSCOMPAT_H

#include <stddef.h>
#include <stdint.h>

/* The host's version: PYHCS_HOST_OS_VERSION (the format of pyhcs.compat: "<major>.<minor>.<build>[.<revision>]
 * [server|client]"), else this default (Windows Server 2022). */
#define OSCOMPAT_HOST_ENV "PYHCS_HOST_OS_VERSION"
#define OSCOMPAT_DEFAULT_HOST "10.0.20348.2655 server"
/* The file in a layer folder that declares the image's OS (an OCI image config or platform object). */
#define OSCOMPAT_LAYER_FILE "image-config.json"
/* A declaration larger than this is refused (HCS_E_INVALID_LAYER). */
#define OSCOMPAT_MAX_DECLARATION (1u << 20)

typedef struct os_version {
    uint32_t major, minor, build, revision;
    int client;   /* a client SKU (Windows 10/11); always 0 for images */
} os_version;

/* Parses "10.0.17763" or "10.0.17763.1234" (decimal, each part a DWORD, surrounding whitespace ignored); with_sku:
 * an optional second word "server" or "client" (any case). Returns 0, or -1 for any other text. */
int osver_parse(const char *text, int with_sku, os_version *out);
/* "10.0.17763.1234" (+ " server"/" client" when with_sku). */
void osver_format(const os_version *v, int with_sku, char *buf, size_t size);

/* May host run image with process (hyperv = 0) or Hyper-V (hyperv = 1) isolation? 1 yes; 0 no, with the rule
 * (pyhcs.compat's rule id) and both versions in why. */
int osver_isolation_allows(const os_version *host, const os_version *image, int hyperv, char *why, size_t size);

/* An image declaration (the text of OSCOMPAT_LAYER_FILE): 1 and *out for a Windows image with os.version; 0 when it
 * names another os or no os.version (nothing to check); -1 for a malformed one (message in err). pyhcs.compat
 * image_os_version's semantics: an image config or platform object, or a descriptor with the fields under
 * "platform"; keys match exactly. */
int osver_from_declaration(const char *json_text, os_version *out, char *err, size_t size);

/* The newest schema minor (2.x) a Windows build accepts (SchemaReference.md's version map; 0 below 17763). */
int osver_highest_schema_minor(uint32_t build);

#endif
