//go:build amd64 && !purego

package report

import "golang.org/x/sys/cpu"

var haveEscapeChunks = cpu.X86.HasSSSE3 && cpu.X86.HasPOPCNT

// jsonExpandShuf and jsonExpandBS spread eight bytes for escapeASCIIChunks:
// for the pattern m of the bytes that need a backslash (bit k: byte k),
// entry m of jsonExpandShuf says where each output byte comes from (0x80:
// a backslash's place, zero), and entry m of jsonExpandBS holds the
// backslashes.
var jsonExpandShuf, jsonExpandBS = func() (shuf, bs [256][16]byte) {
	for m := range 256 {
		p := 0
		for k := range 8 {
			if m&(1<<k) != 0 {
				shuf[m][p] = 0x80
				bs[m][p] = '\\'
				p++
			}
			shuf[m][p] = byte(k)
			p++
		}
		for ; p < 16; p++ {
			shuf[m][p] = 0x80
		}
	}
	return shuf, bs
}()

// escapeASCIIChunks escapes in[:inLen] into out[:outLen] sixteen bytes at
// a time, while the next sixteen are printable ASCII (a '"' or '\\' is
// escaped) and out has room for 32 bytes; it returns the bytes read and
// written.
//
//go:noescape
func escapeASCIIChunks(out *byte, outLen int, in *byte, inLen int) (consumed, produced int)
