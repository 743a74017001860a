/* The few kernel32 functions pyhcs needs. Off Windows, LocalFree comes from the library that replaces
 * computecore (the fake exports it), so result strings are freed by the allocator that made them. */
HLOCAL WINAPI LocalFree(HLOCAL hMem);
UINT WINAPI GetSystemDirectoryW(PWSTR lpBuffer, UINT uSize);
