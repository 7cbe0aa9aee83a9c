package main

import (
	"bytes"
	"os"
	"strconv"
)

// peakMemory returns the peak resident memory of this process in bytes
// (VmHWM, which belongs to the program image, unlike getrusage's maxrss
// that also counts the process that started it).
func peakMemory() (uint64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(v)
			if len(f) == 2 && string(f[1]) == "kB" {
				n, err := strconv.ParseUint(string(f[0]), 10, 64)
				return n << 10, err == nil
			}
		}
	}
	return 0, false
}
