package main

// UTF-16 strings for HCS (PCWSTR in, PWSTR out), written with unicode/utf16 alone: the same conversions hcsshim
// gets from golang.org/x/sys/windows (UTF16PtrFromString, UTF16PtrToString), which is not available offline here.

import (
	"errors"
	"unicode/utf16"
	"unsafe"
)

var errEmbeddedNUL = errors.New("string with an embedded NUL cannot cross to HCS")

// utf16FromString is s as NUL-terminated UTF-16 (the PCWSTR HCS reads); like windows.UTF16FromString it refuses a
// string with a NUL inside, which HCS would silently truncate.
func utf16FromString(s string) ([]uint16, error) {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return nil, errEmbeddedNUL
		}
	}
	return append(utf16.Encode([]rune(s)), 0), nil
}

// utf16PtrToString copies the NUL-terminated UTF-16 string at p (nil gives ""); the caller still owns p and frees
// it (LocalFree for a result document).
func utf16PtrToString(p *uint16) string {
	if p == nil {
		return ""
	}
	n := 0
	for ptr := unsafe.Pointer(p); *(*uint16)(ptr) != 0; n++ {
		ptr = unsafe.Pointer(uintptr(ptr) + 2)
	}
	return string(utf16.Decode(unsafe.Slice(p, n)))
}
