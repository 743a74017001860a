/* Windows base types used by the HCS headers, spelled for cffi and for a C11 compiler alike.
 *
 * HRESULT/LONG are 32-bit on Windows (LLP64), so they are int32_t here, never `long` (64-bit on Linux).
 * WCHAR is UTF-16: char16_t, never the platform wchar_t (4 bytes on Linux).
 * WINAPI stands for the SDK's WINAPI and CALLBACK (both __stdcall; meaningful on 32-bit x86 only).
 */
typedef int32_t HRESULT;
typedef uint32_t DWORD;
typedef uint32_t UINT;
typedef uint64_t UINT64;
typedef int BOOL;
typedef void *HANDLE;
typedef void *HLOCAL;
typedef char16_t WCHAR;
typedef WCHAR *PWSTR;
typedef const WCHAR *PCWSTR;
typedef struct _SECURITY_DESCRIPTOR SECURITY_DESCRIPTOR;
