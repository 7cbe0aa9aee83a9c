package report

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/dissect"
)

// logSink writes every event it gets as a short line.
type logSink struct{ log []string }

func (s *logSink) add(c *dissect.ConvRef, f string, a ...any) {
	s.log = append(s.log, fmt.Sprintf("%d ", c.ID)+fmt.Sprintf(f, a...))
}
func (s *logSink) Handshake(c *dissect.ConvRef, h *dissect.Handshake) { s.add(c, "handshake") }
func (s *logSink) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	s.add(c, "frame %s %s", f.Dir, f.Opcode)
}
func (s *logSink) Message(c *dissect.ConvRef, m *dissect.Message) {
	s.add(c, "message %s %s %s", m.Dir, m.Opcode, m.Payload)
}
func (s *logSink) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	s.add(c, "violation %s %s", v.Dir, v.Code)
}
func (s *logSink) Gap(c *dissect.ConvRef, g *dissect.Gap)       { s.add(c, "gap") }
func (s *logSink) End(c *dissect.ConvRef, sum *dissect.Summary) { s.add(c, "end") }

// feedSample sends two conversations' events to sink.
func feedSample(sink dissect.Sink) {
	a := &dissect.ConvRef{ID: 1, Client: "10.0.0.1:40000", Server: "10.0.0.2:8080"}
	b := &dissect.ConvRef{ID: 2, Client: "[2001:db8::1]:50000", Server: "[2001:db8::2]:443"}
	for _, c := range []*dissect.ConvRef{a, b} {
		sink.Handshake(c, &dissect.Handshake{})
		sink.Frame(c, &dissect.Frame{Dir: dissect.FromClient, Opcode: dissect.OpText})
		sink.Frame(c, &dissect.Frame{Dir: dissect.FromClient, Opcode: dissect.OpContinuation})
		sink.Message(c, &dissect.Message{Dir: dissect.FromClient, Opcode: dissect.OpText, Payload: []byte("hello alice")})
		sink.Frame(c, &dissect.Frame{Dir: dissect.FromServer, Opcode: dissect.OpBinary})
		sink.Message(c, &dissect.Message{Dir: dissect.FromServer, Opcode: dissect.OpBinary, Payload: []byte("bob")})
		sink.Message(c, &dissect.Message{Dir: dissect.FromServer, Opcode: dissect.OpPing, Payload: []byte("p")})
		sink.Violation(c, &dissect.Violation{Dir: dissect.FromServer, Code: "ws.x"})
		sink.Gap(c, &dissect.Gap{})
		sink.End(c, &dissect.Summary{})
	}
}

func TestFilterSink(t *testing.T) {
	server := dissect.FromServer
	mustConv := func(s string) EndpointMatch {
		m, err := ParseEndpointMatch(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ops, err := ParseOpcodes("binary,control")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		f    Filter
		want []string
	}{
		{"port of the server", Filter{Conv: []EndpointMatch{mustConv(":443")}}, []string{
			"2 handshake", "2 frame client text", "2 frame client cont", "2 message client text hello alice",
			"2 frame server binary", "2 message server binary bob", "2 message server ping p",
			"2 violation server ws.x", "2 gap", "2 end"}},
		{"address and port of the client", Filter{Conv: []EndpointMatch{mustConv("10.0.0.1:40000")}}, []string{
			"1 handshake", "1 frame client text", "1 frame client cont", "1 message client text hello alice",
			"1 frame server binary", "1 message server binary bob", "1 message server ping p",
			"1 violation server ws.x", "1 gap", "1 end"}},
		{"address alone, IPv6", Filter{Conv: []EndpointMatch{mustConv("2001:db8::2")}}, nil},
		{"from server, opcodes", Filter{Conv: []EndpointMatch{mustConv("10.0.0.2")}, From: &server, Opcodes: ops}, []string{
			"1 handshake", "1 frame server binary", "1 message server binary bob", "1 message server ping p",
			"1 violation server ws.x", "1 gap", "1 end"}},
		{"grep", Filter{Grep: regexp.MustCompile("^hel+o")}, []string{
			"1 handshake", "1 frame client text", "1 frame client cont", "1 message client text hello alice",
			"1 frame server binary", "1 violation server ws.x", "1 gap", "1 end",
			"2 handshake", "2 frame client text", "2 frame client cont", "2 message client text hello alice",
			"2 frame server binary", "2 violation server ws.x", "2 gap", "2 end"}},
		{"no conversation matches", Filter{Conv: []EndpointMatch{mustConv(":1")}}, []string{}},
	} {
		rec := &logSink{}
		feedSample(NewFilterSink(tc.f, rec))
		want := tc.want
		if want == nil { // the IPv6 case: conversation 2 whole
			want = []string{"2 handshake", "2 frame client text", "2 frame client cont", "2 message client text hello alice",
				"2 frame server binary", "2 message server binary bob", "2 message server ping p",
				"2 violation server ws.x", "2 gap", "2 end"}
		}
		if !slices.Equal(rec.log, want) && !(len(rec.log) == 0 && len(want) == 0) {
			t.Errorf("%s:\n%s\nwant\n%s", tc.name, strings.Join(rec.log, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestParseFilters(t *testing.T) {
	for _, bad := range []string{"", "host:0", "example.com:80", "1.2.3.4:99999", "::1:x"} {
		if _, err := ParseEndpointMatch(bad); err == nil {
			t.Errorf("ParseEndpointMatch(%q) accepted", bad)
		}
	}
	m, err := ParseEndpointMatch("[::1]:80")
	if err != nil || m.Port != 80 || m.Addr.String() != "::1" {
		t.Errorf("[::1]:80: %+v %v", m, err)
	}
	ops, err := ParseOpcodes("text, PING,0xb")
	if err != nil || !slices.Equal(ops, []dissect.Opcode{dissect.OpText, dissect.OpPing, 0xb}) {
		t.Errorf("ParseOpcodes: %v %v", ops, err)
	}
	if _, err := ParseOpcodes("text,nope"); err == nil {
		t.Error("ParseOpcodes accepted nope")
	}
}

// TestMultiSendsToEach checks that Multi passes each event to every sink in
// order.
func TestMultiSendsToEach(t *testing.T) {
	a, b := &logSink{}, &logSink{}
	feedSample(Multi(a, b))
	if len(a.log) != 20 || !slices.Equal(a.log, b.log) {
		t.Errorf("a %d events, b %d; want 20 each, equal", len(a.log), len(b.log))
	}
}

// TestFilterOpcodeContinuation: a continuation frame passes the opcode
// filter when the message it continues does, also with a control frame
// between the fragments and both directions sending at once.
func TestFilterOpcodeContinuation(t *testing.T) {
	feed := func(sink dissect.Sink) {
		c := &dissect.ConvRef{ID: 1, Client: "10.0.0.1:1", Server: "10.0.0.2:2"}
		cl, sv := dissect.FromClient, dissect.FromServer
		for _, f := range []dissect.Frame{
			{Dir: cl, Opcode: dissect.OpText},
			{Dir: sv, Opcode: dissect.OpBinary},
			{Dir: cl, Opcode: dissect.OpPing, Fin: true},
			{Dir: cl, Opcode: dissect.OpContinuation},
			{Dir: sv, Opcode: dissect.OpContinuation, Fin: true},
			{Dir: cl, Opcode: dissect.OpContinuation, Fin: true},
			{Dir: cl, Opcode: dissect.OpContinuation, Fin: true}, // continues nothing
		} {
			sink.Frame(c, &f)
		}
		sink.End(c, &dissect.Summary{})
	}
	for _, tc := range []struct {
		ops  string
		want []string
	}{
		{"text", []string{"1 frame client text", "1 frame client cont", "1 frame client cont", "1 end"}},
		{"binary", []string{"1 frame server binary", "1 frame server cont", "1 end"}},
		{"ping,cont", []string{"1 frame client ping", "1 frame client cont", "1 end"}},
	} {
		ops, err := ParseOpcodes(tc.ops)
		if err != nil {
			t.Fatal(err)
		}
		rec := &logSink{}
		feed(NewFilterSink(Filter{Opcodes: ops}, rec))
		if !slices.Equal(rec.log, tc.want) {
			t.Errorf("--opcode %s:\n%s\nwant\n%s", tc.ops, strings.Join(rec.log, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}
