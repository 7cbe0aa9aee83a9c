//go:build !amd64 || purego

package sha256x

const useX2 = false

func blockx2(ha, hb *[8]uint32, pa, pb *byte, n int) { panic("unreachable") }

func blockx1(h *[8]uint32, p *byte, n int) { panic("unreachable") }
