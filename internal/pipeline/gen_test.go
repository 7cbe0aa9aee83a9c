package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
)

// This file holds the helpers of the tests that build captures with
// pcaptest and run them through the whole pipeline.

var (
	genClient = pcaptest.Endpoint{IP: netip.MustParseAddr("10.0.0.1"), Port: 50000}
	genServer = pcaptest.Endpoint{IP: netip.MustParseAddr("10.0.0.2"), Port: 8080}
	// genMask is the masking key of the client frames the tests write.
	genMask = [4]byte{0xa1, 0x5b, 0x3c, 0x07}
)

// newGenConn returns a connection from genClient to genServer with its TCP
// handshake written.
func newGenConn(opts ...pcaptest.ConnOption) *pcaptest.Conn {
	k := pcaptest.NewConn(genClient, genServer, opts...)
	k.Handshake()
	return k
}

// genUpgrade writes a valid RFC 6455 upgrade request and its 101 answer,
// each with extra header lines.
func genUpgrade(k *pcaptest.Conn, reqExtra, respExtra []string) {
	k.Send(true, pcaptest.UpgradeRequest("example.com", "/chat", pcaptest.DemoKey, reqExtra...))
	k.Send(false, pcaptest.UpgradeResponse(pcaptest.DemoKey, respExtra...))
}

// httpLines joins header block lines with CRLF and ends the block.
func httpLines(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n")
}

// cText and friends build frames: cX are masked final client frames, sX
// unmasked final server frames.
func cFrame(op uint8, payload string) []byte {
	return pcaptest.ClientFrame(op, []byte(payload), genMask)
}

func sFrame(op uint8, payload string) []byte {
	return pcaptest.ServerFrame(op, []byte(payload))
}

// pcapBytes writes c as a pcap file (Ethernet, microseconds).
func pcapBytes(t *testing.T, c *pcaptest.Capture) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WritePcap(&buf, pcaptest.LinkEthernet, false); err != nil {
		t.Fatalf("write pcap: %v", err)
	}
	return buf.Bytes()
}

// runCaptureTo runs c through Run into sink. A zero cfg.Dissect takes the
// default limits.
func runCaptureTo(t *testing.T, c *pcaptest.Capture, cfg Config, sink dissect.Sink) Stats {
	t.Helper()
	src, err := capture.OpenReader(bytes.NewReader(pcapBytes(t, c)), "generated.pcap")
	if err != nil {
		t.Fatalf("open generated capture: %v", err)
	}
	defer src.Close()
	if cfg.Dissect.MaxHeaderBlock == 0 {
		cfg.Dissect = dissect.DefaultConfig()
	}
	st, err := Run(context.Background(), src, cfg, sink)
	if err != nil {
		t.Fatalf("run generated capture: %v", err)
	}
	return st
}

// runCapture runs c through the pipeline into a recording sink.
func runCapture(t *testing.T, c *pcaptest.Capture, cfg Config) *recSink {
	t.Helper()
	s := newRecSink()
	runCaptureTo(t, c, cfg, s)
	return s
}

// onlyConv returns the single conversation of s, failing otherwise.
func onlyConv(t *testing.T, s *recSink) *recConv {
	t.Helper()
	if len(s.convs) != 1 {
		t.Fatalf("got %d conversations, want 1\n%s", len(s.convs), s.dump())
	}
	c := s.convs[0]
	if c.summary == nil {
		t.Fatalf("conversation without End\n%s", s.dump())
	}
	return c
}

// wantViol is an expected violation: code, direction and frame index
// (frame < 0: the violation names no frame).
type wantViol struct {
	code  string
	dir   dissect.Direction
	frame int
}

func (w wantViol) String() string {
	if w.frame < 0 {
		return fmt.Sprintf("%s %s", w.code, w.dir)
	}
	return fmt.Sprintf("%s %s frame %d", w.code, w.dir, w.frame)
}

func violKey(v dissect.Violation) string {
	w := wantViol{code: v.Code, dir: v.Dir, frame: -1}
	if v.HasFrame {
		w.frame = int(v.Frame)
	}
	return w.String()
}

// checkViolations compares the violations of c with want, in order.
func checkViolations(t *testing.T, c *recConv, want ...wantViol) {
	t.Helper()
	var got, exp []string
	for _, v := range c.violations {
		got = append(got, violKey(v))
	}
	for _, w := range want {
		exp = append(exp, w.String())
	}
	if strings.Join(got, "\n") != strings.Join(exp, "\n") {
		t.Errorf("violations:\n got %q\nwant %q\nevents:\n%s", got, exp, strings.Join(c.log, "\n"))
	}
}

// msgKey is a short form of a message for comparisons: direction, opcode,
// length, payload, and "incomplete" when its last frame never came.
func msgKey(m dissect.Message) string {
	s := fmt.Sprintf("%s %s %d %q", m.Dir, m.Opcode, m.Length, m.Payload)
	if m.Incomplete {
		s += " incomplete"
	}
	return s
}

// mk formats an expected message the way msgKey does.
func mk(dir dissect.Direction, op dissect.Opcode, payload string) string {
	return fmt.Sprintf("%s %s %d %q", dir, op, len(payload), payload)
}

// checkMessages compares the messages of c with want, in order.
func checkMessages(t *testing.T, c *recConv, want ...string) {
	t.Helper()
	var got []string
	for _, m := range c.messages {
		got = append(got, msgKey(m))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n got %q\nwant %q\nevents:\n%s", got, want, strings.Join(c.log, "\n"))
	}
}

// framesFrom counts the frames of direction d and checks that their
// indexes run 0, 1, 2...
func framesFrom(t *testing.T, c *recConv, d dissect.Direction) int {
	t.Helper()
	n := 0
	for _, f := range c.frames {
		if f.Dir != d {
			continue
		}
		if f.Index != uint64(n) {
			t.Errorf("%s frame #%d has index %d", d, n, f.Index)
		}
		n++
	}
	return n
}

// checkMessagesFrom compares the messages of direction d with want, in
// order.
func checkMessagesFrom(t *testing.T, c *recConv, d dissect.Direction, want ...string) {
	t.Helper()
	var got []string
	for _, m := range c.messages {
		if m.Dir == d {
			got = append(got, msgKey(m))
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s messages:\n got %q\nwant %q\nevents:\n%s", d, got, want, strings.Join(c.log, "\n"))
	}
}
