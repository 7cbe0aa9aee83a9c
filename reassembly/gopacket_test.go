package reassembly

import (
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
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

// rawStream records what gopacket's assembler delivers, starting without SYN.
type rawStream struct{ data []byte }

func (s *rawStream) Accept(_ *layers.TCP, _ gopacket.CaptureInfo, _ gpreasm.TCPFlowDirection, _ gpreasm.Sequence, start *bool, _ gpreasm.AssemblerContext) bool {
	*start = true
	return true
}
func (s *rawStream) ReassembledSG(sg gpreasm.ScatterGather, _ gpreasm.AssemblerContext) {
	n, _ := sg.Lengths()
	s.data = append(s.data, sg.Fetch(n)...)
}
func (s *rawStream) ReassemblyComplete(gpreasm.AssemblerContext) bool { return true }

type rawFactory struct{ s *rawStream }

func (f rawFactory) New(_, _ gopacket.Flow, _ *layers.TCP, _ gpreasm.AssemblerContext) gpreasm.Stream {
	return f.s
}

// gopacket v1.1.19 lets a segment replace bytes it buffered ahead of a hole,
// so a keep-alive probe (one garbage byte at the sender's next sequence
// number minus one) overwrites the last byte buffered. The package drops
// keep-alives before gopacket sees them; the step "keep-alive behind a hole
// does not overwrite buffered bytes" of TestSteps fails without that. If this
// test fails, gopacket changed.
func TestGopacketKeepAliveOverwritesBuffer(t *testing.T) {
	s := &rawStream{}
	asm := gpreasm.NewAssembler(gpreasm.NewStreamPool(rawFactory{s}))
	flow := gopacket.NewFlow(layers.EndpointIPv4, []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2})
	ctx := &captureCtx{ci: gopacket.CaptureInfo{Timestamp: t0}}
	for _, seg := range []struct {
		seq     uint32
		payload string
	}{{100, "abc"}, {106, "ghi"}, {108, "\x00"}} { // 103-105 lost
		tcp := &layers.TCP{SrcPort: 1, DstPort: 2, Seq: seg.seq, ACK: true}
		tcp.Payload = []byte(seg.payload)
		tcp.SetInternalPortsForTesting()
		asm.AssembleWithContext(flow, tcp, ctx)
	}
	asm.FlushAll()
	if got, defect := string(s.data), "abcgh\x00"; got != defect {
		t.Errorf("gopacket delivered %q; its defect gave %q (right: %q)", got, defect, "abcghi")
	}
}
