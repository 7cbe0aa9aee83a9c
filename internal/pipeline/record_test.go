package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
)

// recConv is everything one conversation produced, copied out of the events.
type recConv struct {
	ref        dissect.ConvRef
	handshakes []dissect.Handshake
	frames     []dissect.Frame
	messages   []dissect.Message
	violations []dissect.Violation
	gaps       []dissect.Gap
	summary    *dissect.Summary
	// log is every event as a line, in order, for comparisons.
	log []string
}

// recSink records the events of every conversation (owned copies).
type recSink struct {
	convs []*recConv
	byRef map[*dissect.ConvRef]*recConv
}

func newRecSink() *recSink { return &recSink{byRef: map[*dissect.ConvRef]*recConv{}} }

func (s *recSink) conv(c *dissect.ConvRef) *recConv {
	rc := s.byRef[c]
	if rc == nil {
		rc = &recConv{}
		s.byRef[c] = rc
		s.convs = append(s.convs, rc)
	}
	rc.ref = *c
	return rc
}

func (s *recSink) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	rc := s.conv(c)
	rc.handshakes = append(rc.handshakes, *h)
	resp := "none"
	if h.Response != nil {
		resp = fmt.Sprint(h.Response.StatusCode)
	}
	rc.log = append(rc.log, fmt.Sprintf("handshake %s %s %s -> %s accept=%v sub=%q", h.Protocol, h.Request.Method, h.Request.URI, resp, h.AcceptValid, h.Subprotocol))
}

func (s *recSink) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	rc := s.conv(c)
	g := *f
	g.Payload = bytes.Clone(f.Payload)
	rc.frames = append(rc.frames, g)
	rc.log = append(rc.log, fmt.Sprintf("frame %s #%d fin=%v rsv=%d %s masked=%v len=%d %x", f.Dir, f.Index, f.Fin, f.Rsv, f.Opcode, f.Masked, f.Length, f.Payload))
}

func (s *recSink) Message(c *dissect.ConvRef, m *dissect.Message) {
	rc := s.conv(c)
	g := *m
	g.Payload = bytes.Clone(m.Payload)
	rc.messages = append(rc.messages, g)
	rc.log = append(rc.log, fmt.Sprintf("message %s #%d %s frames=%d len=%d wire=%d code=%d reason=%q rtt=%v %x", m.Dir, m.Index, m.Opcode, m.Frames, m.Length, m.WireLength, m.CloseCode, m.CloseReason, m.RTT, m.Payload))
}

func (s *recSink) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	rc := s.conv(c)
	rc.violations = append(rc.violations, *v)
	rc.log = append(rc.log, fmt.Sprintf("violation %s %s frame=%v/%d %s", v.Code, v.Dir, v.HasFrame, v.Frame, v.Detail))
}

func (s *recSink) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	rc := s.conv(c)
	rc.gaps = append(rc.gaps, *g)
	rc.log = append(rc.log, fmt.Sprintf("gap %s off=%d len=%d", g.Dir, g.Offset, g.Length))
}

func (s *recSink) End(c *dissect.ConvRef, sum *dissect.Summary) {
	rc := s.conv(c)
	cp := *sum
	rc.summary = &cp
	rc.log = append(rc.log, fmt.Sprintf("end ws=%v %s close=%+v", sum.IsWebSocket, sum.EndReason, sum.Close))
}

// codes returns the violation codes of a conversation, in order.
func (rc *recConv) codes() []string {
	var out []string
	for _, v := range rc.violations {
		out = append(out, v.Code)
	}
	return out
}

// runFile runs a capture through the whole pipeline into a recording sink.
func runFile(t *testing.T, path string, cfg Config) (*recSink, Stats) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	if cfg.Dissect.MaxHeaderBlock == 0 {
		cfg.Dissect = dissect.DefaultConfig()
	}
	sink := newRecSink()
	st, err := Run(context.Background(), src, cfg, sink)
	if err != nil {
		t.Fatalf("run %s: %v", path, err)
	}
	return sink, st
}

// wsConvs returns the conversations that became WebSocket.
func (s *recSink) wsConvs() []*recConv {
	var out []*recConv
	for _, c := range s.convs {
		if c.summary != nil && c.summary.IsWebSocket {
			out = append(out, c)
		}
	}
	return out
}

func (s *recSink) dump() string {
	var b strings.Builder
	for _, c := range s.convs {
		fmt.Fprintf(&b, "conv %d %s > %s\n", c.ref.ID, c.ref.Client, c.ref.Server)
		for _, l := range c.log {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}
