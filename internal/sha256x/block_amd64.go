//go:build amd64 && !purego

package sha256x

// useX2: the processor has the SHA extensions (CPUID leaf 7, EBX bit 29)
// and the SSSE3 and SSE4.1 instructions the code also uses (leaf 1, ECX
// bits 9 and 19).
var useX2 = func() bool {
	max, _, _, _ := cpuid(0, 0)
	if max < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	_, b7, _, _ := cpuid(7, 0)
	return c1&(1<<9) != 0 && c1&(1<<19) != 0 && b7&(1<<29) != 0
}()

// blockx2 hashes n blocks at pa into ha and n blocks at pb into hb.
//
//go:noescape
func blockx2(ha, hb *[8]uint32, pa, pb *byte, n int)

// blockx1 hashes n blocks at p into h.
//
//go:noescape
func blockx1(h *[8]uint32, p *byte, n int)

func cpuid(leaf, sub uint32) (a, b, c, d uint32)
