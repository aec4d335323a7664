//go:build !linux

package main

// releaseStartupCode is a no-op where the code's pages are not released
// (see startupcode_linux.go).
func releaseStartupCode() (kib int64) { return 0 }
