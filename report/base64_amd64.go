//go:build amd64 && !purego

package report

import "golang.org/x/sys/cpu"

var haveBase64Blocks = cpu.X86.HasSSSE3

// encodeBase64Blocks encodes blocks*12 bytes at in into blocks*16
// characters at out (standard alphabet); it reads four bytes beyond the
// blocks.
//
//go:noescape
func encodeBase64Blocks(out, in *byte, blocks int)
