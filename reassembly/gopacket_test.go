package reassembly

import (
	"testing"

	gpreasm "github.com/google/gopacket/reassembly"
)

// gopacket v1.1.19 measures distances across the 2^32 wrap one short. The
// package rebases sequence numbers to keep clear of it (see the package
// documentation); the steps "a hole across 2^32" and "a one-byte hole right
// at 2^32" of TestSteps fail without that. If this test fails, gopacket was
// fixed and the rebasing may go.
func TestGopacketWrapDefect(t *testing.T) {
	cases := []struct {
		from, to gpreasm.Sequence
		gopacket int // what v1.1.19 returns
		correct  int
	}{
		{0xFFFFFFFF, 0, 0, 1},
		{0xFFFFFFFA, 4, 9, 10},
		{4, 0xFFFFFFFA, -9, -10},
		{0x7FFFFFF0, 0x80000000, 16, 16}, // far from the wrap: right
	}
	for _, c := range cases {
		if got := c.from.Difference(c.to); got != c.gopacket {
			t.Errorf("Sequence(%#x).Difference(%#x) = %d; gopacket's defect gave %d (correct: %d)",
				int64(c.from), int64(c.to), got, c.gopacket, c.correct)
		}
	}
}
