//go:build !amd64 || purego

package report

const haveEscapeChunks = false

func escapeASCIIChunks(out *byte, outLen int, in *byte, inLen int) (consumed, produced int) {
	panic("unreachable")
}
