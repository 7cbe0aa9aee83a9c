package dissect

import (
	"testing"
	"time"
)

// countSink counts events and checks the invariants every sink relies on.
type countSink struct {
	t                       *testing.T
	frames, messages, viols [2]uint64
	handshakes, gaps, ends  int
	ref                     *ConvRef
}

func (s *countSink) check(c *ConvRef) {
	if s.ref != nil && c != s.ref {
		s.t.Fatalf("events of one conversation carry two ConvRefs")
	}
	s.ref = c
	if s.ends > 0 {
		s.t.Fatalf("event after End")
	}
}
func (s *countSink) Handshake(c *ConvRef, h *Handshake) { s.check(c); s.handshakes++ }
func (s *countSink) Frame(c *ConvRef, f *Frame) {
	s.check(c)
	s.frames[f.Dir]++
	if uint64(len(f.Payload)) > f.Length {
		s.t.Fatalf("frame keeps %d payload bytes of %d", len(f.Payload), f.Length)
	}
}
func (s *countSink) Message(c *ConvRef, m *Message) {
	s.check(c)
	s.messages[m.Dir]++
	if m.Truncated == (uint64(len(m.Payload)) == m.Length) && !m.Compressed {
		s.t.Fatalf("message keeps %d of %d bytes, truncated=%v", len(m.Payload), m.Length, m.Truncated)
	}
}
func (s *countSink) Violation(c *ConvRef, v *Violation) {
	s.check(c)
	s.viols[v.Dir]++
	if v.Code == "" || v.Detail == "" {
		s.t.Fatalf("violation without code or detail: %+v", v)
	}
}
func (s *countSink) Gap(c *ConvRef, g *Gap) { s.check(c); s.gaps++ }
func (s *countSink) End(c *ConvRef, sum *Summary) {
	s.check(c)
	s.ends++
}

// FuzzConversation feeds arbitrary records to a whole conversation: each
// record is a control byte (bit 0: side; bit 1: a gap instead of data;
// bits 2-7: length) followed by that many bytes. The conversation must not
// panic, its counters must agree with the events, and it must keep no more
// payload than the cap.
func FuzzConversation(f *testing.F) {
	hs := "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
	rec := func(side byte, b string) []byte {
		var out []byte
		for len(b) > 0 {
			n := min(len(b), 63)
			out = append(out, side|byte(n)<<2)
			out = append(out, b[:n]...)
			b = b[n:]
		}
		return out
	}
	seed := append(rec(0, hs), rec(1, resp)...)
	seed = append(seed, rec(0, "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x52\x58")...) // masked "Hello"
	seed = append(seed, rec(1, "\x81\x05Hello\x88\x02\x03\xe8")...)
	f.Add(seed, false)
	f.Add(rec(1, "\x82\x7e\x01\x00"), true)
	f.Add(append(rec(0, hs), 2|5<<2), false)
	f.Fuzz(func(t *testing.T, in []byte, assume bool) {
		cfg := DefaultConfig()
		cfg.MaxPayload = 64
		cfg.MaxHeaderBlock = 512
		sink := &countSink{t: t}
		ref := &ConvRef{ID: 1, Client: "a", Server: "b"}
		c := NewConversation(&cfg, ref, sink, ConvOptions{AssumeWebSocket: assume})
		now := time.Unix(0, 0)
		for len(in) > 0 {
			ctl := in[0]
			n := min(int(ctl>>2), len(in)-1)
			side := int(ctl & 1)
			now = now.Add(time.Millisecond)
			if ctl&2 != 0 {
				c.Gap(side, uint64(n)+1, now)
			} else {
				c.Feed(side, in[1:1+n], now)
			}
			in = in[1+n:]
		}
		sum := c.End(EndFIN, now)
		sink.End(ref, sum)
		for d := 0; d < 2; d++ {
			if sum.Stats[d].Frames != sink.frames[d] {
				t.Fatalf("direction %d: summary counts %d frames, %d events", d, sum.Stats[d].Frames, sink.frames[d])
			}
			if got := sum.Stats[d].Messages + sum.Stats[d].Controls; got != sink.messages[d] {
				t.Fatalf("direction %d: summary counts %d messages, %d events", d, got, sink.messages[d])
			}
		}
	})
}
