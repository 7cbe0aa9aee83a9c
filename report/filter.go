package report

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/wsdump/wsdump/dissect"
)

// Filter chooses which events reach the outputs.
//
// Conversation filters (Conv) drop every event of a conversation that no
// entry matches. Direction, opcode and payload filters apply to messages
// and frames; violations follow the direction filter; handshakes, gaps and
// conversation ends are kept for every conversation that passes.
type Filter struct {
	// Conv lists endpoints; a conversation passes when its client or its
	// server matches one of them. Empty: every conversation.
	Conv []EndpointMatch
	// From keeps only what one side sent (nil: both).
	From *dissect.Direction
	// Opcodes keeps only messages and frames of these opcodes (empty: all).
	// Continuation frames always pass it.
	Opcodes []dissect.Opcode
	// Grep keeps only messages whose kept payload matches (nil: all).
	// Frames are not matched and pass.
	Grep *regexp.Regexp
}

// EndpointMatch matches an endpoint by address, port or both.
type EndpointMatch struct {
	Addr netip.Addr // invalid: any address
	Port uint16     // 0: any port
}

// ParseEndpointMatch parses "HOST:PORT", "HOST", ":PORT" or "[V6]:PORT".
// HOST is an IP address.
func ParseEndpointMatch(s string) (EndpointMatch, error) {
	bad := fmt.Errorf("want ADDRESS:PORT, ADDRESS or :PORT, not %q", s)
	if s == "" {
		return EndpointMatch{}, bad
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return EndpointMatch{Addr: a.Unmap()}, nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return EndpointMatch{}, bad
	}
	p, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil || p == 0 {
		return EndpointMatch{}, bad
	}
	m := EndpointMatch{Port: uint16(p)}
	if host := s[:i]; host != "" {
		a, err := netip.ParseAddr(strings.Trim(host, "[]"))
		if err != nil {
			return EndpointMatch{}, bad
		}
		m.Addr = a.Unmap()
	}
	return m, nil
}

func (m EndpointMatch) match(ap netip.AddrPort) bool {
	if m.Addr.IsValid() && ap.Addr().Unmap() != m.Addr {
		return false
	}
	return m.Port == 0 || ap.Port() == m.Port
}

// ParseOpcodes parses a comma-separated list of opcode names ("text",
// "binary", "close", "ping", "pong", "cont", "0x3".."0xf"; "data" is text
// and binary, "control" close, ping and pong).
func ParseOpcodes(s string) ([]dissect.Opcode, error) {
	var out []dissect.Opcode
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		switch name {
		case "data":
			out = append(out, dissect.OpText, dissect.OpBinary)
			continue
		case "control":
			out = append(out, dissect.OpClose, dissect.OpPing, dissect.OpPong)
			continue
		}
		found := false
		for o := dissect.Opcode(0); o < 16; o++ {
			if o.String() == name {
				out = append(out, o)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown opcode %q (want text, binary, close, ping, pong, cont, data, control or 0x3..0xf)", name)
		}
	}
	return out, nil
}

// Active reports whether the filter drops anything.
func (f *Filter) Active() bool {
	return len(f.Conv) > 0 || f.From != nil || len(f.Opcodes) > 0 || f.Grep != nil
}

// NewFilterSink returns a sink passing to next what f keeps.
func NewFilterSink(f Filter, next dissect.Sink) dissect.Sink {
	return &filterSink{f: f, next: next, convOK: map[*dissect.ConvRef]bool{}, msgOp: map[*dissect.ConvRef]*[2]dissect.Opcode{}}
}

type filterSink struct {
	f      Filter
	next   dissect.Sink
	convOK map[*dissect.ConvRef]bool
	// msgOp is the opcode of the data message each direction of a
	// conversation is sending, for its continuation frames (kept only
	// when the filter has opcodes).
	msgOp map[*dissect.ConvRef]*[2]dissect.Opcode
}

func (s *filterSink) conv(c *dissect.ConvRef) bool {
	if len(s.f.Conv) == 0 {
		return true
	}
	ok, seen := s.convOK[c]
	if !seen {
		a, _ := netip.ParseAddrPort(c.Client)
		b, _ := netip.ParseAddrPort(c.Server)
		for _, m := range s.f.Conv {
			if m.match(a) || m.match(b) {
				ok = true
				break
			}
		}
		s.convOK[c] = ok
	}
	return ok
}

func (s *filterSink) dir(d dissect.Direction) bool {
	return s.f.From == nil || *s.f.From == d
}

func (s *filterSink) opcode(o dissect.Opcode) bool {
	if len(s.f.Opcodes) == 0 {
		return true
	}
	for _, x := range s.f.Opcodes {
		if x == o {
			return true
		}
	}
	return false
}

func (s *filterSink) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	if s.conv(c) {
		s.next.Handshake(c, h)
	}
}

func (s *filterSink) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	if !s.conv(c) || !s.dir(f.Dir) {
		return
	}
	if len(s.f.Opcodes) > 0 {
		// A continuation frame belongs to the message its first frame
		// began: it passes when that message's opcode does.
		op := f.Opcode
		if !op.IsControl() {
			cur := s.msgOp[c]
			if cur == nil {
				cur = &[2]dissect.Opcode{dissect.OpContinuation, dissect.OpContinuation}
				s.msgOp[c] = cur
			}
			if op == dissect.OpContinuation {
				op = cur[f.Dir&1]
			} else {
				cur[f.Dir&1] = op
			}
			if f.Fin {
				cur[f.Dir&1] = dissect.OpContinuation
			}
		}
		if !s.opcode(op) {
			return
		}
	}
	s.next.Frame(c, f)
}

func (s *filterSink) Message(c *dissect.ConvRef, m *dissect.Message) {
	if !s.conv(c) || !s.dir(m.Dir) || !s.opcode(m.Opcode) {
		return
	}
	if s.f.Grep != nil && !s.f.Grep.Match(m.Payload) {
		return
	}
	s.next.Message(c, m)
}

func (s *filterSink) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	if s.conv(c) && s.dir(v.Dir) {
		s.next.Violation(c, v)
	}
}

func (s *filterSink) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	if s.conv(c) {
		s.next.Gap(c, g)
	}
}

func (s *filterSink) End(c *dissect.ConvRef, sum *dissect.Summary) {
	ok := s.conv(c)
	delete(s.convOK, c)
	delete(s.msgOp, c)
	if ok {
		s.next.End(c, sum)
	}
}

// Multi returns a sink that passes every event to each of sinks in turn.
func Multi(sinks ...dissect.Sink) dissect.Sink {
	if len(sinks) == 1 {
		return sinks[0]
	}
	return multiSink(sinks)
}

type multiSink []dissect.Sink

func (m multiSink) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	for _, s := range m {
		s.Handshake(c, h)
	}
}
func (m multiSink) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	for _, s := range m {
		s.Frame(c, f)
	}
}
func (m multiSink) Message(c *dissect.ConvRef, msg *dissect.Message) {
	for _, s := range m {
		s.Message(c, msg)
	}
}
func (m multiSink) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	for _, s := range m {
		s.Violation(c, v)
	}
}
func (m multiSink) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	for _, s := range m {
		s.Gap(c, g)
	}
}
func (m multiSink) End(c *dissect.ConvRef, sum *dissect.Summary) {
	for _, s := range m {
		s.End(c, sum)
	}
}
