//go:build !linux

package main

// becomeSubreaper: on Windows any process can be waited for through a handle; nothing to do.
func becomeSubreaper() error { return nil }
