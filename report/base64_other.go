//go:build !amd64 || purego

package report

const haveBase64Blocks = false

func encodeBase64Blocks(out, in *byte, blocks int) { panic("unreachable") }
