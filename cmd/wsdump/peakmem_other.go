//go:build !linux

package main

// peakMemory is not known on this system.
func peakMemory() (uint64, bool) { return 0, false }
