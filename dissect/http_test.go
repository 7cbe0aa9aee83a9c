package dissect

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 14, 15, 46, 13, 0, time.UTC)

// seg is bytes of one side, in capture order.
type seg struct {
	side int
	b    string
}

// phaseDriver plays the part of the conversation: it follows the feeding
// contract of httpPhase (keep what was not consumed, offer it again after
// the other side was fed) and records the events.
type phaseDriver struct {
	p        *httpPhase
	pend     [2][]byte
	frames   [2][]byte // bytes handed over as frames
	dropped  [2]int    // bytes dropped after notHTTP
	consumed [2]int    // bytes the phase consumed
	events   []string
	bySide   [2][]string // violations by the side they were reported for
	hs       []*Handshake
	viols    []Violation
	now      time.Time
}

func newDriver(cfg *Config) *phaseDriver {
	d := &phaseDriver{p: newHTTPPhase(cfg), now: t0}
	d.p.onHandshake = func(h *Handshake) {
		d.hs = append(d.hs, h)
		d.events = append(d.events, "handshake "+fmtHandshake(h))
	}
	d.p.onViolation = func(side int, v *Violation) {
		d.viols = append(d.viols, *v)
		e := fmt.Sprintf("violation side=%d %s %s dir=%s %q %s", side, v.Code, v.Severity, v.Dir, v.Detail, v.Ref)
		d.events = append(d.events, e)
		d.bySide[side] = append(d.bySide[side], e)
	}
	return d
}

func (d *phaseDriver) push(s int, b []byte) {
	d.pend[s] = append(d.pend[s], b...)
	d.pump()
}

func (d *phaseDriver) pump() {
	for progress := true; progress; {
		progress = false
		for s := 0; s < 2; s++ {
			if len(d.pend[s]) == 0 {
				continue
			}
			if d.p.notHTTP() {
				d.dropped[s] += len(d.pend[s])
				d.pend[s] = nil
				continue
			}
			if !d.p.upgraded(s) {
				// feed gets a copy that is scribbled over afterwards, to
				// catch a phase that keeps references to its input.
				in := append([]byte(nil), d.pend[s]...)
				n := d.p.feed(s, in, d.now)
				for i := range in {
					in[i] = 0xEE
				}
				if n < 0 || n > len(d.pend[s]) {
					panic(fmt.Sprintf("feed returned %d of %d", n, len(d.pend[s])))
				}
				if n > 0 {
					progress = true
				}
				d.consumed[s] += n
				d.pend[s] = append([]byte(nil), d.pend[s][n:]...)
				if d.p.notHTTP() {
					continue
				}
			}
			if d.p.upgraded(s) && len(d.pend[s]) > 0 {
				d.frames[s] = append(d.frames[s], d.pend[s]...)
				d.pend[s] = nil
				progress = true
			}
		}
	}
}

func (d *phaseDriver) end() { d.p.end(d.now) }

// sideSummary is summary with the violations listed per side: the two sides
// of a connection are fed one after the other, so how violations of one side
// interleave with those of the other depends on where the caller could
// offer waiting bytes again.
func (d *phaseDriver) sideSummary() string {
	var hs []string
	for _, h := range d.hs {
		hs = append(hs, fmtHandshake(h))
	}
	c, ok := d.p.clientSide()
	return fmt.Sprintf("%s\nside0: %s\nside1: %s\nframes0=%q frames1=%q pend0=%q pend1=%q taken=%v client=%d,%v up=%v,%v dead=%v",
		strings.Join(hs, "\n"), strings.Join(d.bySide[0], "\n"), strings.Join(d.bySide[1], "\n"),
		d.frames[0], d.frames[1], d.pend[0], d.pend[1],
		[2]int{d.consumed[0] + d.dropped[0], d.consumed[1] + d.dropped[1]},
		c, ok, d.p.upgraded(0), d.p.upgraded(1), d.p.notHTTP())
}

// summary is everything the driver saw, for comparisons between splits.
func (d *phaseDriver) summary() string {
	c, ok := d.p.clientSide()
	return fmt.Sprintf("%s\nframes0=%q frames1=%q pend0=%q pend1=%q taken=%v client=%d,%v up=%v,%v dead=%v %q",
		strings.Join(d.events, "\n"), d.frames[0], d.frames[1], d.pend[0], d.pend[1],
		[2]int{d.consumed[0] + d.dropped[0], d.consumed[1] + d.dropped[1]},
		c, ok, d.p.upgraded(0), d.p.upgraded(1), d.p.notHTTP(), d.p.stopReason)
}

func (d *phaseDriver) codes() []string {
	var out []string
	for _, v := range d.viols {
		out = append(out, v.Code)
	}
	return out
}

func fmtHandshake(h *Handshake) string {
	c := *h
	c.Response = nil
	c.Deflate = nil
	s := fmt.Sprintf("%+v", c)
	if h.Response != nil {
		s += fmt.Sprintf(" resp=%+v", *h.Response)
	}
	if h.Deflate != nil {
		s += fmt.Sprintf(" deflate=%+v", *h.Deflate)
	}
	return s
}

// play feeds the segments, each cut into pieces by split, then ends.
func play(cfg *Config, segs []seg, split func(n int) []int) *phaseDriver {
	d := newDriver(cfg)
	for _, sg := range segs {
		b := []byte(sg.b)
		cuts := split(len(b))
		prev := 0
		for _, c := range cuts {
			d.push(sg.side, b[prev:c])
			prev = c
		}
		d.push(sg.side, b[prev:])
	}
	d.end()
	return d
}

func whole(int) []int { return nil }

func byteByByte(n int) []int {
	var c []int
	for i := 1; i < n; i++ {
		c = append(c, i)
	}
	return c
}

func randomSplit(r *rand.Rand) func(n int) []int {
	return func(n int) []int {
		var c []int
		for i := 1; i < n; i++ {
			if r.Intn(7) == 0 {
				c = append(c, i)
			}
		}
		return c
	}
}

// Wire bytes used by several tests.
const (
	// RFC 6455 §1.3.
	rfcRequest = "GET /chat HTTP/1.1\r\n" +
		"Host: server.example.com\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Origin: http://example.com\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n"
	rfcResponse = "HTTP/1.1 101 Switching Protocols\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Protocol: chat\r\n" +
		"\r\n"

	// From zeek's wrong-accept-header.pcap (tcp stream 0).
	zeekRequest = "GET / HTTP/1.1\r\n" +
		"Host: localhost:8080\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: VMueuJIhu60C0hDKL+vS6g==\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
		"Sec-WebSocket-Protocol: v1\r\n" +
		"User-Agent: Python/3.10 websockets/12.0\r\n" +
		"\r\n"
	zeekWrongResponse = "HTTP/1.1 101 Switching Protocols\r\n" +
		"connection: upgrade\r\n" +
		"upgrade: websocket\r\n" +
		"sec-websocket-accept: N8ntNYkX6Qerw4tK3s/CYzpSZNc=-wrong\r\n" +
		"sec-websocket-protocol: v1\r\n" +
		"\r\n"
	zeekGoodResponse = "HTTP/1.1 101 Switching Protocols\r\n" +
		"connection: upgrade\r\n" +
		"upgrade: websocket\r\n" +
		"sec-websocket-accept: N8ntNYkX6Qerw4tK3s/CYzpSZNc=\r\n" +
		"sec-websocket-protocol: v1\r\n" +
		"\r\n"
	// A masked text frame "Zeek" from the client and an unmasked one from
	// the server (frame bytes are opaque to the HTTP phase).
	clientFrame = "\x81\x84\x01\x02\x03\x04[gfo"
	serverFrame = "\x81\x04Zeek"
)

func TestRFCExampleHandshake(t *testing.T) {
	d := play(nil, []seg{{0, rfcRequest}, {1, rfcResponse + serverFrame}}, whole)
	if len(d.hs) != 1 {
		t.Fatalf("got %d handshakes; want 1", len(d.hs))
	}
	h := d.hs[0]
	checks := []struct{ name, got, want string }{
		{"Protocol", string(h.Protocol), "rfc6455"},
		{"Method", h.Request.Method, "GET"},
		{"URI", h.Request.URI, "/chat"},
		{"Version", h.Request.Version, "HTTP/1.1"},
		{"Host", h.Host, "server.example.com"},
		{"Origin", h.Origin, "http://example.com"},
		{"Key", h.Key, "dGhlIHNhbXBsZSBub25jZQ=="},
		{"Accept", h.Accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
		{"ExpectedAccept", h.ExpectedAccept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
		{"WSVersion", h.Version, "13"},
		{"Subprotocol", h.Subprotocol, "chat"},
		{"Offered", strings.Join(h.OfferedSubprotocols, "|"), "chat|superchat"},
		{"Status", fmt.Sprint(h.Response.StatusCode, " ", h.Response.Reason), "101 Switching Protocols"},
		{"RespVersion", h.Response.Version, "HTTP/1.1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q; want %q", c.name, c.got, c.want)
		}
	}
	if !h.Upgraded || !h.AcceptValid {
		t.Errorf("Upgraded=%v AcceptValid=%v; want true, true", h.Upgraded, h.AcceptValid)
	}
	if len(h.Request.Headers) != 7 || h.Request.Headers[6] != (Header{"Sec-WebSocket-Version", "13"}) {
		t.Errorf("request headers: got %+v", h.Request.Headers)
	}
	if len(h.Response.Headers) != 4 || h.Response.Headers[0] != (Header{"Upgrade", "websocket"}) {
		t.Errorf("response headers: got %+v", h.Response.Headers)
	}
	if len(d.viols) != 0 {
		t.Errorf("violations: got %v; want none", d.codes())
	}
	if string(d.frames[1]) != serverFrame || len(d.frames[0]) != 0 {
		t.Errorf("frames: got %q, %q; want %q from the server", d.frames[0], d.frames[1], serverFrame)
	}
	if c, ok := d.p.clientSide(); c != 0 || !ok {
		t.Errorf("clientSide: got %d,%v; want 0,true", c, ok)
	}
}

// The 101 response and the first frames in one segment: feed returns the
// end of the header block.
func TestCoalescedResponseReturnsFrames(t *testing.T) {
	p := newHTTPPhase(nil)
	var got []*Handshake
	p.onHandshake = func(h *Handshake) { got = append(got, h) }
	if n := p.feed(0, []byte(zeekRequest), t0); n != len(zeekRequest) {
		t.Fatalf("request: feed consumed %d; want %d", n, len(zeekRequest))
	}
	if p.upgraded(0) {
		t.Fatalf("client upgraded before the response")
	}
	data := []byte(zeekGoodResponse + serverFrame + serverFrame)
	if n := p.feed(1, data, t0); n != len(zeekGoodResponse) {
		t.Fatalf("response: feed consumed %d; want %d", n, len(zeekGoodResponse))
	}
	if !p.upgraded(0) || !p.upgraded(1) {
		t.Errorf("upgraded: got %v,%v; want true,true", p.upgraded(0), p.upgraded(1))
	}
	if n := p.feed(1, []byte(serverFrame), t0); n != 0 {
		t.Errorf("feed after upgrade consumed %d; want 0", n)
	}
	if len(got) != 1 || !got[0].AcceptValid || got[0].Subprotocol != "v1" {
		t.Fatalf("handshake: got %d records", len(got))
	}
	if e := got[0].OfferedExtensions; len(e) != 1 || e[0].Name != "permessage-deflate" ||
		len(e[0].Params) != 1 || e[0].Params[0] != (ExtensionParam{Name: "client_max_window_bits"}) {
		t.Errorf("offered extensions: got %+v", e)
	}
	if got[0].Deflate != nil {
		t.Errorf("Deflate: got %+v; want nil (not accepted)", got[0].Deflate)
	}
}

// Client bytes that follow the upgrade request before the answer are left
// to the caller and become frames after a 101.
func TestEarlyClientBytes(t *testing.T) {
	p := newHTTPPhase(nil)
	in := []byte(zeekRequest + clientFrame)
	n := p.feed(0, in, t0)
	if n != len(zeekRequest) {
		t.Fatalf("feed consumed %d; want %d (the request only)", n, len(zeekRequest))
	}
	if p.upgraded(0) || p.notHTTP() {
		t.Fatalf("upgraded=%v notHTTP=%v; want false,false", p.upgraded(0), p.notHTTP())
	}
	if n := p.feed(0, in[n:], t0); n != 0 {
		t.Fatalf("waiting client consumed %d; want 0", n)
	}
	p.feed(1, []byte(zeekGoodResponse), t0)
	if !p.upgraded(0) {
		t.Fatalf("client not upgraded after the 101")
	}

	// Through the driver, split anywhere, the early frame comes out as a
	// frame of the client.
	for _, split := range []func(int) []int{whole, byteByByte} {
		d := play(nil, []seg{{0, zeekRequest + clientFrame}, {1, zeekGoodResponse + serverFrame}, {0, clientFrame}}, split)
		if string(d.frames[0]) != clientFrame+clientFrame || string(d.frames[1]) != serverFrame {
			t.Errorf("frames: got %q, %q", d.frames[0], d.frames[1])
		}
	}
}

// After a refused upgrade, what the client sent while waiting is its next
// request; here a second upgrade attempt that succeeds.
func TestRefusedThenRetried(t *testing.T) {
	refused := "HTTP/1.1 403 Forbidden\r\n" +
		"Content-Type: text/plain\r\n" +
		"Content-Length: 9\r\n" +
		"\r\n" +
		"forbidden"
	d := play(nil, []seg{
		{0, zeekRequest + zeekRequest},
		{1, refused + zeekGoodResponse + serverFrame},
	}, whole)
	if len(d.hs) != 2 {
		t.Fatalf("got %d handshakes; want 2", len(d.hs))
	}
	h := d.hs[0]
	if h.Upgraded || h.Response == nil || h.Response.StatusCode != 403 || h.Response.Reason != "Forbidden" {
		t.Errorf("first: got Upgraded=%v resp=%+v; want refused 403 Forbidden", h.Upgraded, h.Response)
	}
	if len(h.Response.Headers) != 2 || h.Response.Headers[1] != (Header{"Content-Length", "9"}) {
		t.Errorf("first response headers: got %+v", h.Response.Headers)
	}
	if !d.hs[1].Upgraded || !d.hs[1].AcceptValid {
		t.Errorf("second: got Upgraded=%v AcceptValid=%v; want true,true", d.hs[1].Upgraded, d.hs[1].AcceptValid)
	}
	if want := []string{"ws.upgrade_refused"}; fmt.Sprint(d.codes()) != fmt.Sprint(want) {
		t.Errorf("violations: got %v; want %v", d.codes(), want)
	}
	if string(d.frames[1]) != serverFrame {
		t.Errorf("server frames: got %q; want %q", d.frames[1], serverFrame)
	}

	// Refused without a body (no Content-Length would mean a body up to the
	// close, so a 426 with Content-Length: 0).
	d = play(nil, []seg{{0, zeekRequest}, {1, "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"}}, whole)
	if len(d.hs) != 1 || d.hs[0].Upgraded || d.hs[0].Response.StatusCode != 426 || d.p.notHTTP() {
		t.Errorf("426: got %d handshakes, notHTTP=%v", len(d.hs), d.p.notHTTP())
	}
}

func TestUnansweredUpgrade(t *testing.T) {
	d := newDriver(nil)
	d.push(0, []byte(rfcRequest))
	if len(d.hs) != 0 {
		t.Fatalf("handshake reported before end")
	}
	d.end()
	d.end() // twice: reported once
	if len(d.hs) != 1 || d.hs[0].Response != nil || d.hs[0].Upgraded {
		t.Fatalf("got %d handshakes; want 1 with Response nil", len(d.hs))
	}
	if want := "[ws.upgrade_not_answered]"; fmt.Sprint(d.codes()) != want {
		t.Errorf("violations: got %v; want %s", d.codes(), want)
	}
	if d.viols[0].Severity != SeverityInfo || d.viols[0].Dir != FromClient {
		t.Errorf("violation: got %s %s; want info client", d.viols[0].Severity, d.viols[0].Dir)
	}
}

// Upgrade detection by content, on side 1, with header names and values
// in odd case and spacing.
func TestUpgradeDetectionVariants(t *testing.T) {
	for _, tc := range []struct {
		name   string
		req    string
		wantWS bool
	}{
		{"keep-alive list", "GET /x HTTP/1.1\r\nhost: a\r\nconnection: keep-alive, Upgrade\r\nUPGRADE:   WebSocket  \r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version:13\r\n\r\n", true},
		{"upgrade list", "GET /x HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: foo/2, websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", true},
		{"tabs", "GET /x HTTP/1.1\r\nConnection:\tUpgrade\t\r\nUpgrade:\twebsocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", true},
		{"bare LF", "GET /x HTTP/1.1\nConnection: Upgrade\nUpgrade: websocket\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\nSec-WebSocket-Version: 13\n\n", true},
		{"plain GET", "GET /x HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", false},
		{"h2c", "GET /x HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
			if !tc.wantWS {
				resp = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
			}
			d := play(nil, []seg{{1, tc.req}, {0, resp}}, whole)
			if c, ok := d.p.clientSide(); c != 1 || !ok {
				t.Errorf("clientSide: got %d,%v; want 1,true", c, ok)
			}
			if got := len(d.hs) == 1 && d.hs[0].Upgraded; got != tc.wantWS {
				t.Errorf("upgraded handshake: got %v; want %v (events %v)", got, tc.wantWS, d.events)
			}
			if tc.wantWS && len(d.viols) != 0 {
				t.Errorf("violations: got %v; want none", d.events)
			}
			if tc.wantWS && d.hs[0].Request.URI != "/x" {
				t.Errorf("URI: got %q", d.hs[0].Request.URI)
			}
		})
	}
	// The header value is trimmed, the name kept as on the wire.
	d := play(nil, []seg{{0, "GET / HTTP/1.1\r\nUPGRADE:   WebSocket  \r\nconnection: upgrade\r\n\r\n"}}, whole)
	if len(d.hs) != 1 || d.hs[0].Request.Headers[0] != (Header{"UPGRADE", "WebSocket"}) {
		t.Errorf("headers: got %+v", d.hs)
	}
}

// Ordinary exchanges on a keep-alive connection before the upgrade.
func TestKeepAliveBeforeUpgrade(t *testing.T) {
	client := "" +
		"POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world" +
		"\r\n" + // a stray CRLF after a body is ignored (RFC 7230 §3.5)
		"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" +
		"5;ext=1;q=\"a/b c\"\r\nGET /\r\n" + "0A\r\n0123456789\r\n" + "0\r\nX-Trailer: GET / HTTP/1.1\r\n\r\n" +
		"HEAD /h HTTP/1.1\r\nHost: a\r\n\r\n" +
		"GET /c HTTP/1.1\r\nIf-None-Match: x\r\n\r\n" +
		"DELETE /d HTTP/1.1\r\n\r\n" +
		"PUT /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc" +
		zeekRequest
	server := "" +
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3\r\nabc\r\n" + "10\r\n0123456789abcdef\r\n" + "0\r\nTrailer-A: 1\r\nTrailer-B: 2\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + // HEAD: no body
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.1 100 Continue\r\n\r\n" + "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n" +
		zeekWrongResponse + serverFrame
	for name, segs := range map[string][]seg{
		"client first":   {{0, client}, {1, server}},
		"server first":   {{1, server}, {0, client}},
		"pipelined half": {{0, client[:60]}, {1, server[:70]}, {0, client[60:]}, {1, server[70:]}},
	} {
		d := play(nil, segs, whole)
		if len(d.hs) != 1 || !d.hs[0].Upgraded {
			t.Fatalf("%s: got %d handshakes (events %v, stop %q)", name, len(d.hs), d.events, d.p.stopReason)
		}
		if d.hs[0].AcceptValid || d.hs[0].Accept != "N8ntNYkX6Qerw4tK3s/CYzpSZNc=-wrong" || d.hs[0].ExpectedAccept != "N8ntNYkX6Qerw4tK3s/CYzpSZNc=" {
			t.Errorf("%s: accept %q valid=%v expected %q", name, d.hs[0].Accept, d.hs[0].AcceptValid, d.hs[0].ExpectedAccept)
		}
		if fmt.Sprint(d.codes()) != "[ws.accept_mismatch]" {
			t.Errorf("%s: violations %v; want [ws.accept_mismatch]", name, d.events)
		}
		if string(d.frames[1]) != serverFrame {
			t.Errorf("%s: server frames %q; want %q", name, d.frames[1], serverFrame)
		}
		if c, _ := d.p.clientSide(); c != 0 {
			t.Errorf("%s: client side %d; want 0", name, c)
		}
	}
}

func TestResponseUntilClose(t *testing.T) {
	for _, resp := range []string{
		"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html>",
		"HTTP/1.0 404 Not Found\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n\x1f\x8b",
	} {
		d := play(nil, []seg{{0, "GET / HTTP/1.1\r\nHost: a\r\n\r\n" + zeekRequest}, {1, resp + zeekGoodResponse}}, whole)
		if !d.p.notHTTP() || d.p.stopReason != "response body delimited by the end of the connection" {
			t.Errorf("%q: notHTTP=%v stop=%q; want gave up", resp, d.p.notHTTP(), d.p.stopReason)
		}
		// The upgrade request was seen; its answer was lost in the body.
		if len(d.hs) != 1 || d.hs[0].Response != nil || d.hs[0].Upgraded || len(d.frames[1]) != 0 {
			t.Errorf("%q: got %d handshakes; want the request alone", resp, len(d.hs))
		}
	}
	// A refused upgrade whose body runs to the close is still recorded.
	d := play(nil, []seg{{0, zeekRequest}, {1, "HTTP/1.1 400 Bad Request\r\n\r\nno"}}, whole)
	if len(d.hs) != 1 || d.hs[0].Response.StatusCode != 400 || !d.p.notHTTP() {
		t.Errorf("refused: got %d handshakes notHTTP=%v", len(d.hs), d.p.notHTTP())
	}
}

func TestHeaderTooLarge(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxHeaderBlock = 100
	long := "GET / HTTP/1.1\r\nX-Long: " + strings.Repeat("a", 200) + "\r\n\r\n"
	d := play(&cfg, []seg{{0, long}, {1, rfcResponse}}, whole)
	if fmt.Sprint(d.codes()) != "[http.header_too_large]" || !d.p.notHTTP() {
		t.Errorf("got %v notHTTP=%v; want [http.header_too_large] true", d.codes(), d.p.notHTTP())
	}
	// Exactly at the cap is accepted.
	exact := "GET / HTTP/1.1\r\nX: " + strings.Repeat("b", 100-len("GET / HTTP/1.1\r\nX: \r\n\r\n")) + "\r\n\r\n"
	cfg.MaxHeaderBlock = len(exact)
	d = play(&cfg, []seg{{0, exact}, {1, "HTTP/1.1 204 No Content\r\n\r\n"}}, byteByByte)
	if len(d.viols) != 0 || d.p.notHTTP() {
		t.Errorf("at the cap: got %v notHTTP=%v; want none", d.codes(), d.p.notHTTP())
	}
	cfg.MaxHeaderBlock = len(exact) - 1
	d = play(&cfg, []seg{{0, exact}}, byteByByte)
	if fmt.Sprint(d.codes()) != "[http.header_too_large]" {
		t.Errorf("one over the cap: got %v", d.codes())
	}
	// A long request line without any CRLF is cut at the cap too.
	cfg.MaxHeaderBlock = 64
	d = play(&cfg, []seg{{0, "GET /" + strings.Repeat("x", 1000)}}, whole)
	if fmt.Sprint(d.codes()) != "[http.header_too_large]" {
		t.Errorf("long request line: got %v", d.codes())
	}
	if n := len(d.p.side[0].buf); n > 64 {
		t.Errorf("buffered %d header bytes; cap 64", n)
	}
}

// Streams that are not HTTP are given up within their first bytes, quietly:
// a connection that never spoke HTTP broke no HTTP rule.
func TestNotHTTP(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   string
		within int // bytes after which notHTTP must be set
	}{
		{"tls", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 100), 1},
		{"ssh", "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n" + strings.Repeat("\x00", 100), 42},
		{"binary", "\x00\x01\x02\x03" + strings.Repeat("\xff", 100), 1},
		{"frame", serverFrame + strings.Repeat("x", 100), 1},
		{"http2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 14},
		{"space in method", "G T / HTTP/1.1\r\n\r\n", 5},
		{"no version", "GET /\r\n\r\n", 6},
		{"long method", strings.Repeat("A", 40) + " / HTTP/1.1\r\n\r\n", 33},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newHTTPPhase(nil)
			viols := 0
			p.onViolation = func(int, *Violation) { viols++ }
			b := []byte(tc.data)
			for i := 0; i < len(b) && !p.notHTTP(); i++ {
				if i >= tc.within {
					t.Fatalf("still HTTP after %d bytes", i)
				}
				if n := p.feed(0, b[i:i+1], t0); n != 1 {
					// a short return is only allowed for a "HTTP/" prefix
					t.Fatalf("byte %d: feed returned %d", i, n)
				}
			}
			if !p.notHTTP() || viols != 0 {
				t.Errorf("notHTTP=%v violations=%d; want true, 0", p.notHTTP(), viols)
			}
			if n := p.feed(0, b, t0); n != len(b) {
				t.Errorf("after giving up feed returned %d; want %d", n, len(b))
			}
		})
	}
	// The server speaks first (SSH banner) on side 1.
	p := newHTTPPhase(nil)
	p.feed(1, []byte("SSH-2.0-OpenSSH_8.9\r\n"), t0)
	if !p.notHTTP() {
		t.Errorf("SSH banner from side 1: notHTTP false")
	}
	// A status line from the side that sent the request.
	d := play(nil, []seg{{0, "GET / HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"}}, whole)
	if !d.p.notHTTP() || fmt.Sprint(d.codes()) != "[http.malformed]" {
		t.Errorf("status line from client: notHTTP=%v %v", d.p.notHTTP(), d.codes())
	}
	// "HTTP/2.0" is not HTTP/1.x.
	d = play(nil, []seg{{0, "GET / HTTP/1.1\r\n\r\n"}, {1, "HTTP/2.0 200 OK\r\n\r\n"}}, whole)
	if !d.p.notHTTP() || fmt.Sprint(d.codes()) != "[http.malformed]" {
		t.Errorf("HTTP/2.0 status: notHTTP=%v %v", d.p.notHTTP(), d.codes())
	}
}

// A response seen before its request waits without being consumed.
func TestResponseBeforeRequest(t *testing.T) {
	p := newHTTPPhase(nil)
	for _, b := range []string{"H", "HT", "HTTP", "HTTP/1.1 101 Switching"} {
		if n := p.feed(1, []byte(b), t0); n != 0 || p.notHTTP() {
			t.Fatalf("feed(%q) = %d notHTTP=%v; want 0 false", b, n, p.notHTTP())
		}
	}
	if _, ok := p.clientSide(); ok {
		t.Errorf("client known from a response alone")
	}
	if n := p.feed(1, []byte("HTTP/1.1 abc"), t0); n != len("HTTP/1.1 abc") || !p.notHTTP() {
		t.Errorf("bad status prefix: n=%d notHTTP=%v; want consumed, true", n, p.notHTTP())
	}
}

func TestChunkingInvariance(t *testing.T) {
	hixieReq, hixieResp := hixie76Example()
	scenarios := map[string][]seg{
		"rfc":   {{0, rfcRequest}, {1, rfcResponse + serverFrame}, {0, clientFrame}},
		"zeek":  {{0, zeekRequest + clientFrame}, {1, zeekWrongResponse + serverFrame}},
		"hixie": {{0, hixieReq}, {1, hixieResp + "\x00hi\xff"}},
		"keepalive": {
			{0, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\nT: 1\r\n\r\n" + rfcRequest},
			{1, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc" + "HTTP/1.1 401 No\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"},
			{0, zeekRequest},
			{1, zeekGoodResponse + serverFrame},
		},
		"unanswered": {{1, rfcRequest}},
		"malformed":  {{0, "GET / HTTP/1.1\r\nbad line\r\nX: y\r\n\r\n"}, {1, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n"}, {1, "x"}},
		"extensions": {{0, "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Extensions: a; b=\"c\", d\r\nSec-WebSocket-Extensions: permessage-deflate;;\r\n\r\n"},
			{1, "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Extensions: x-other, permessage-deflate; server_max_window_bits=10\r\n\r\n"}},
	}
	r := rand.New(rand.NewSource(1))
	for name, segs := range scenarios {
		want := play(nil, segs, whole).summary()
		if got := play(nil, segs, byteByByte).summary(); got != want {
			t.Errorf("%s byte by byte:\n got %s\nwant %s", name, got, want)
		}
		for i := 0; i < 20; i++ {
			if got := play(nil, segs, randomSplit(r)).summary(); got != want {
				t.Errorf("%s random split %d:\n got %s\nwant %s", name, i, got, want)
				break
			}
		}
	}
}

// hixie76Example is the handshake of draft-hixie-thewebsocketprotocol-76
// §1.3 (keys, key3 and the answer from the draft's example).
func hixie76Example() (req, resp string) {
	req = "GET /demo HTTP/1.1\r\n" +
		"Host: example.com\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n" +
		"Sec-WebSocket-Protocol: sample\r\n" +
		"Upgrade: WebSocket\r\n" +
		"Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n" +
		"Origin: http://example.com\r\n" +
		"\r\n" +
		"^n:ds[4U"
	resp = "HTTP/1.1 101 WebSocket Protocol Handshake\r\n" +
		"Upgrade: WebSocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Origin: http://example.com\r\n" +
		"Sec-WebSocket-Location: ws://example.com/demo\r\n" +
		"Sec-WebSocket-Protocol: sample\r\n" +
		"\r\n" +
		"8jKS'y:G*Co,Wxa-"
	return req, resp
}

func TestHixie76(t *testing.T) {
	req, resp := hixie76Example()
	d := play(nil, []seg{{0, req + "\x00early\xff"}, {1, resp + "\x00hello\xff"}}, whole)
	if len(d.hs) != 1 {
		t.Fatalf("got %d handshakes", len(d.hs))
	}
	h := d.hs[0]
	if h.Protocol != ProtoHixie76 || !h.Upgraded {
		t.Errorf("Protocol=%s Upgraded=%v; want hixie-76 true", h.Protocol, h.Upgraded)
	}
	if string(h.Key3) != "^n:ds[4U" || string(h.ChallengeAnswer) != "8jKS'y:G*Co,Wxa-" {
		t.Errorf("key3 %q answer %q", h.Key3, h.ChallengeAnswer)
	}
	if !h.ChallengeValid || string(h.ExpectedResponse) != "8jKS'y:G*Co,Wxa-" {
		t.Errorf("ChallengeValid=%v expected %q", h.ChallengeValid, h.ExpectedResponse)
	}
	if h.Key1 != "4 @1  46546xW%0l 1 5" || h.Key2 != "12998 5 Y3 1  .P00" || h.Origin != "http://example.com" || h.Subprotocol != "sample" {
		t.Errorf("fields: %+v", h)
	}
	if len(d.viols) != 0 {
		t.Errorf("violations: %v", d.events)
	}
	if string(d.frames[0]) != "\x00early\xff" || string(d.frames[1]) != "\x00hello\xff" {
		t.Errorf("frames: %q %q", d.frames[0], d.frames[1])
	}

	// A wrong answer, and keys that break the rules.
	bad := strings.Replace(resp, "8jKS'y:G*Co,Wxa-", "0123456789abcdef", 1)
	d = play(nil, []seg{{0, req}, {1, bad}}, whole)
	if fmt.Sprint(d.codes()) != "[ws.challenge_mismatch]" || d.hs[0].ChallengeValid {
		t.Errorf("wrong answer: %v", d.codes())
	}
	badKeys := strings.Replace(strings.Replace(req, "4 @1  46546xW%0l 1 5", "4@146546xW%0l15", 1), "12998 5 Y3 1  .P00", "12998 5 Y3 1  .P01", 1)
	d = play(nil, []seg{{0, badKeys}, {1, resp}}, whole)
	if got := fmt.Sprint(d.codes()); got != "[ws.hixie_key_no_spaces ws.hixie_key_not_divisible]" {
		t.Errorf("bad keys: got %v", got)
	}
	// Cut inside the answer: reported at end, not upgraded, no mismatch.
	d = play(nil, []seg{{0, req}, {1, resp[:len(resp)-5]}}, whole)
	if len(d.hs) != 1 || d.hs[0].Upgraded || fmt.Sprint(d.codes()) != "[ws.hixie_challenge_short]" || d.p.upgraded(1) {
		t.Errorf("cut answer: %v", d.events)
	}
	// Cut inside key3: the request is reported at end, unanswered.
	d = play(nil, []seg{{0, req[:len(req)-3]}, {1, resp}}, whole)
	if len(d.hs) != 1 || d.hs[0].Upgraded || fmt.Sprint(d.codes()) != "[ws.hixie_key3_short ws.upgrade_not_answered]" {
		t.Errorf("cut key3: %v %v", d.codes(), d.events)
	}
}

func TestHixieKeyNumber(t *testing.T) {
	for _, tc := range []struct {
		key  string
		n    uint32
		code string
	}{
		{"4 @1  46546xW%0l 1 5", 829309203, ""},
		{"12998 5 Y3 1  .P00", 259970620, ""},
		{"1 2", 12, ""},
		{"12", 0, "ws.hixie_key_no_spaces"},
		{"1 3 ", 0, "ws.hixie_key_not_divisible"},
		{"  ", 0, "ws.hixie_key_invalid"},
		{"9999999999 ", 0, "ws.hixie_key_invalid"},              // over 32 bits
		{"99999999999999999999999 ", 0, "ws.hixie_key_invalid"}, // over 64 bits
	} {
		n, code, _ := hixieKeyNumber(tc.key)
		if n != tc.n || code != tc.code {
			t.Errorf("hixieKeyNumber(%q) = %d, %q; want %d, %q", tc.key, n, code, tc.n, tc.code)
		}
	}
}

func TestHixie75(t *testing.T) {
	req := "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: example.com\r\nOrigin: http://example.com\r\nWebSocket-Protocol: sample\r\n\r\n"
	resp := "HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nWebSocket-Origin: http://example.com\r\nWebSocket-Location: ws://example.com/demo\r\n\r\n"
	d := play(nil, []seg{{0, req}, {1, resp + "\x00hi\xff"}}, whole)
	if len(d.hs) != 1 || d.hs[0].Protocol != ProtoHixie75 || !d.hs[0].Upgraded {
		t.Fatalf("got %v", d.events)
	}
	if len(d.viols) != 0 || string(d.frames[1]) != "\x00hi\xff" {
		t.Errorf("violations %v frames %q", d.codes(), d.frames[1])
	}
	if v, _ := GetHeader(d.hs[0].Response.Headers, "WebSocket-Location"); v != "ws://example.com/demo" {
		t.Errorf("WebSocket-Location: got %q", v)
	}
}

// Handshake violations, one table row per rule.
func TestHandshakeViolations(t *testing.T) {
	const key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	const base = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	const ok101 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	const accept = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	for _, tc := range []struct {
		name, req, resp, want string
	}{
		{"valid", base + key + "Sec-WebSocket-Version: 13\r\n\r\n", ok101 + accept + "\r\n", "[]"},
		{"accept of the brief", base + key + "Sec-WebSocket-Version: 13\r\n\r\n", ok101 + "Sec-WebSocket-Accept: s3pPLMBiTxaAGhK8YW9Zo+xKk+Y=\r\n\r\n", "[ws.accept_mismatch]"},
		{"missing key", base + "Sec-WebSocket-Version: 13\r\n\r\n", ok101 + accept + "\r\n", "[ws.missing_key]"},
		{"bad key", base + "Sec-WebSocket-Key: abc\r\nSec-WebSocket-Version: 13\r\n\r\n", ok101 + "Sec-WebSocket-Accept: " + computeAccept("abc") + "\r\n\r\n", "[ws.bad_key]"},
		{"missing accept", base + key + "Sec-WebSocket-Version: 13\r\n\r\n", ok101 + "\r\n", "[ws.missing_accept]"},
		{"empty accept", base + key + "Sec-WebSocket-Version: 13\r\n\r\n", ok101 + "Sec-WebSocket-Accept:\r\n\r\n", "[ws.accept_mismatch]"},
		{"bad version", base + key + "Sec-WebSocket-Version: 8\r\n\r\n", ok101 + accept + "\r\n", "[ws.bad_version]"},
		{"no version", base + key + "\r\n", ok101 + accept + "\r\n", "[ws.bad_version]"},
		{"subprotocol not offered", base + key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n\r\n", ok101 + accept + "Sec-WebSocket-Protocol: d\r\n\r\n", "[ws.subprotocol_not_offered]"},
		{"subprotocol from 2nd header", base + key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c\r\n\r\n", ok101 + accept + "Sec-WebSocket-Protocol: c\r\n\r\n", "[]"},
		{"extension not offered", base + key + "Sec-WebSocket-Version: 13\r\n\r\n", ok101 + accept + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", "[ws.extension_not_offered]"},
		{"extensions malformed req", base + key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate; =1\r\n\r\n", ok101 + accept + "\r\n", "[ws.extensions_malformed]"},
		{"extensions malformed resp", base + key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", ok101 + accept + "Sec-WebSocket-Extensions: permessage-deflate; x=\"a b\"\r\n\r\n", "[ws.extensions_malformed]"},
		{"deflate params", base + key + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n", ok101 + accept + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n", "[ws.deflate_params_invalid]"},
		{"refused", base + key + "Sec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", "[ws.upgrade_refused]"},
		{"post", "POST / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n", ok101 + accept + "\r\n", "[ws.method_not_get]"},
		{"http/1.0 no connection", "GET / HTTP/1.0\r\nUpgrade: websocket\r\n" + key + "Sec-WebSocket-Version: 13\r\n\r\n", ok101 + accept + "\r\n", "[ws.http_version ws.connection_not_upgrade]"},
		{"response without upgrade", base + key + "Sec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n" + accept + "\r\n", "[ws.bad_upgrade_response]"},
	} {
		d := play(nil, []seg{{0, tc.req}, {1, tc.resp}}, whole)
		if len(d.hs) != 1 {
			t.Errorf("%s: got %d handshakes", tc.name, len(d.hs))
			continue
		}
		codes := d.codes()
		if codes == nil {
			codes = []string{}
		}
		if got := fmt.Sprint(codes); got != tc.want {
			t.Errorf("%s: got %s; want %s (%v)", tc.name, got, tc.want, d.events)
		}
		// The handshake is reported before its violations.
		if len(d.events) > 0 && !strings.HasPrefix(d.events[0], "handshake") {
			t.Errorf("%s: first event %q; want the handshake", tc.name, d.events[0])
		}
	}
}

func TestDeflateNegotiated(t *testing.T) {
	req := "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; server_max_window_bits=10, permessage-deflate\r\n\r\n"
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12\r\n\r\n"
	d := play(nil, []seg{{0, req}, {1, resp}}, whole)
	if len(d.hs) != 1 || len(d.viols) != 0 {
		t.Fatalf("events %v", d.events)
	}
	got := d.hs[0].Deflate
	want := DeflateParams{Extension: "permessage-deflate", NoContextTakeover: [2]bool{false, true}, MaxWindowBits: [2]int{12, 10}}
	if got == nil || *got != want {
		t.Errorf("Deflate: got %+v; want %+v", got, want)
	}
	if n := len(d.hs[0].OfferedExtensions); n != 2 {
		t.Errorf("offered: got %d extensions; want 2", n)
	}
}

// Malformed header lines are reported once per block and decoding goes on.
func TestMalformedHeaderLines(t *testing.T) {
	req := "GET / HTTP/1.1\r\nno colon here\r\n: empty name\r\nUpgrade : websocket\r\n folded\r\nConnection: upgrade\r\n continued\r\n\r\n"
	d := play(nil, []seg{{0, req}}, whole)
	if len(d.viols) < 1 || d.viols[0].Code != "http.malformed" || !strings.HasPrefix(d.viols[0].Detail, "4 header lines") {
		t.Fatalf("got %v", d.events)
	}
	if d.p.notHTTP() {
		t.Errorf("gave up on malformed header lines")
	}
	h := d.p.hs
	if h != nil {
		t.Errorf("Upgrade with a space before the colon was taken as an upgrade")
	}
	hb := parseHeadBlock([]byte(req))
	want := []Header{{"Connection", "upgrade continued"}}
	if fmt.Sprint(hb.headers) != fmt.Sprint(want) {
		t.Errorf("headers: got %+v; want %+v", hb.headers, want)
	}
}

func TestParseStatusLine(t *testing.T) {
	for _, tc := range []struct {
		line   string
		ok     bool
		code   int
		reason string
	}{
		{"HTTP/1.1 101 Switching Protocols", true, 101, "Switching Protocols"},
		{"HTTP/1.0 200 OK", true, 200, "OK"},
		{"HTTP/1.1 101", true, 101, ""},
		{"HTTP/1.1 101 ", true, 101, ""},
		{"HTTP/1.1 20 OK", false, 0, ""},
		{"HTTP/1.1 200OK", false, 0, ""},
		{"HTTP/2 200 OK", false, 0, ""},
		{"HTTP/1.1 200 O\x01K", false, 0, ""},
	} {
		_, code, reason, ok := parseStatusLine(tc.line)
		if ok != tc.ok || code != tc.code || reason != tc.reason {
			t.Errorf("parseStatusLine(%q) = %d %q %v; want %d %q %v", tc.line, code, reason, ok, tc.code, tc.reason, tc.ok)
		}
	}
}

func TestBodyOf(t *testing.T) {
	for _, tc := range []struct {
		hs     string
		resp   bool
		kind   bodyKind
		length uint64
	}{
		{"Content-Length: 10", false, bodyLength, 10},
		{"Content-Length: 10, 10", true, bodyLength, 10},
		{"Content-Length: 10\nContent-Length: 11", false, bodyBad, 0},
		{"Content-Length: -1", false, bodyBad, 0},
		{"Content-Length: 99999999999999999999", false, bodyBad, 0},
		{"Content-Length: 0", true, bodyNone, 0},
		{"", false, bodyNone, 0},
		{"", true, bodyClose, 0},
		{"Transfer-Encoding: gzip, chunked\nContent-Length: 5", false, bodyChunked, 0},
		{"Transfer-Encoding: chunked, gzip", true, bodyClose, 0},
		{"Transfer-Encoding: CHUNKED", true, bodyChunked, 0},
	} {
		var hs []Header
		for _, l := range strings.Split(tc.hs, "\n") {
			if l == "" {
				continue
			}
			i := strings.IndexByte(l, ':')
			hs = append(hs, Header{l[:i], strings.TrimSpace(l[i+1:])})
		}
		kind, length, _ := bodyOf(hs, tc.resp)
		if kind != tc.kind || length != tc.length {
			t.Errorf("bodyOf(%q, resp=%v) = %d, %d; want %d, %d", tc.hs, tc.resp, kind, length, tc.kind, tc.length)
		}
	}
}

func TestChunkedErrors(t *testing.T) {
	for _, body := range []string{
		"g\r\n",                          // not hex
		"4\r\nabcdX",                     // no CRLF after data
		"11111111111111111\r\n",          // 17 hex digits
		"4;" + strings.Repeat("e", 5000), // endless extension
		"4;a=\x01\r\n",                   // control byte in an extension
		"0\r\n\rX",                       // bad end of trailer
	} {
		d := play(nil, []seg{{0, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + body}}, whole)
		if !d.p.notHTTP() || fmt.Sprint(d.codes()) != "[http.malformed]" {
			t.Errorf("%q: notHTTP=%v %v; want true [http.malformed]", body, d.p.notHTTP(), d.codes())
		}
	}
	// A huge chunk size is counted, not allocated.
	d := play(nil, []seg{{0, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\nabc"}}, whole)
	if d.p.notHTTP() || d.p.side[0].remain != 0xfffffffffffffff-3 {
		t.Errorf("huge chunk: notHTTP=%v remain=%d", d.p.notHTTP(), d.p.side[0].remain)
	}
}

// A response to a request the phase never saw is not consumed: the caller
// keeps it. Checks that nothing is lost in the driver either.
func TestDriverKeepsWaitingBytes(t *testing.T) {
	d := newDriver(nil)
	d.push(1, []byte(rfcResponse))
	if !bytes.Equal(d.pend[1], []byte(rfcResponse)) {
		t.Fatalf("pending: got %q", d.pend[1])
	}
	d.push(0, []byte(rfcRequest))
	if len(d.pend[1]) != 0 || len(d.hs) != 1 || !d.hs[0].Upgraded {
		t.Errorf("after the request: pending %q, %d handshakes", d.pend[1], len(d.hs))
	}
}

// Hybi drafts 7 and 8 sent the origin as Sec-WebSocket-Origin.
func TestSecWebSocketOrigin(t *testing.T) {
	req := "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Origin: http://old.example\r\nSec-WebSocket-Version: 8\r\n\r\n"
	d := play(nil, []seg{{0, req}, {1, rfcResponse}}, whole)
	if len(d.hs) != 1 || d.hs[0].Origin != "http://old.example" || d.hs[0].Version != "8" {
		t.Fatalf("got %v", d.events)
	}
	if got := fmt.Sprint(d.codes()); got != "[ws.bad_version ws.subprotocol_not_offered]" {
		t.Errorf("violations: got %s", got)
	}
}

func BenchmarkHTTPPhaseHandshake(b *testing.B) {
	req, resp := []byte(zeekRequest), []byte(zeekGoodResponse+serverFrame)
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	cfg := DefaultConfig()
	for i := 0; i < b.N; i++ {
		p := newHTTPPhase(&cfg)
		p.onHandshake = func(*Handshake) {}
		p.feed(0, req, t0)
		if n := p.feed(1, resp, t0); n != len(zeekGoodResponse) {
			b.Fatalf("consumed %d", n)
		}
	}
}

// Skipping bodies costs no allocation per body byte.
func BenchmarkHTTPPhaseChunkedBody(b *testing.B) {
	var body bytes.Buffer
	body.WriteString("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
	for i := 0; i < 64; i++ {
		body.WriteString("400\r\n")
		body.Write(bytes.Repeat([]byte{'x'}, 0x400))
		body.WriteString("\r\n")
	}
	body.WriteString("0\r\n\r\n")
	data := body.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	cfg := DefaultConfig()
	for i := 0; i < b.N; i++ {
		p := newHTTPPhase(&cfg)
		if n := p.feed(0, data, t0); n != len(data) || p.notHTTP() {
			b.Fatalf("consumed %d of %d", n, len(data))
		}
	}
}
