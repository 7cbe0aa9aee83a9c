package dissect

import (
	"crypto/sha256"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"
)

// hixieRec records the events of conversations as text lines, with every
// field the hixie framing sets, so that runs can be compared.
type hixieRec struct {
	lines []string
	hs    []Handshake
	msgs  []Message // owned copies
	frs   []Frame
	codes []string
}

func (r *hixieRec) Handshake(c *ConvRef, h *Handshake) {
	r.hs = append(r.hs, *h)
	r.lines = append(r.lines, fmt.Sprintf("handshake %s upgraded=%v", h.Protocol, h.Upgraded))
}
func (r *hixieRec) Frame(c *ConvRef, f *Frame) {
	g := *f
	g.Payload = append([]byte(nil), f.Payload...)
	r.frs = append(r.frs, g)
	r.lines = append(r.lines, fmt.Sprintf("frame %s #%d %s type=%#x len=%d hdr=%d fin=%v %q trunc=%v start=%d end=%d",
		f.Dir, f.Index, f.Opcode, f.HixieType, f.Length, f.HeaderLen, f.Fin, hixieShort(f.Payload), f.PayloadTruncated,
		f.Start.Sub(hixieT0), f.Time.Sub(hixieT0)))
}
func (r *hixieRec) Message(c *ConvRef, m *Message) {
	n := *m
	n.Payload = append([]byte(nil), m.Payload...)
	r.msgs = append(r.msgs, n)
	r.lines = append(r.lines, fmt.Sprintf("message %s #%d %s frames=%d wire=%d len=%d %q trunc=%v utf8=%v incomplete=%v sha=%x start=%d end=%d",
		m.Dir, m.Index, m.Opcode, m.Frames, m.WireLength, m.Length, hixieShort(m.Payload), m.Truncated, m.ValidUTF8, m.Incomplete,
		m.SHA256[:4], m.Start.Sub(hixieT0), m.End.Sub(hixieT0)))
}
func (r *hixieRec) Violation(c *ConvRef, v *Violation) {
	r.codes = append(r.codes, fmt.Sprintf("%s %s@%d", v.Dir, v.Code, v.Frame))
	r.lines = append(r.lines, fmt.Sprintf("violation %s %s frame=%v/%d", v.Dir, v.Code, v.HasFrame, v.Frame))
}
func (r *hixieRec) Gap(c *ConvRef, g *Gap) {
	r.lines = append(r.lines, fmt.Sprintf("gap %s off=%d len=%d", g.Dir, g.Offset, g.Length))
}
func (r *hixieRec) End(c *ConvRef, s *Summary) {}

var hixieT0 = time.Date(2010, 5, 6, 7, 8, 9, 0, time.UTC)

// hixieSeg is a piece of one side of a conversation (side 0 is the client)
// and the capture time of its bytes. A gap of n bytes is written with b
// empty and gap n.
type hixieSeg struct {
	side int
	b    string
	gap  uint64
}

// runHixie feeds segs to a new conversation, each cut into pieces by split,
// the k-th piece of the whole run at hixieT0 + k ms, then ends it.
func runHixie(cfg Config, segs []hixieSeg, split func(n int) []int) (*hixieRec, *Summary) {
	rec := &hixieRec{}
	ref := &ConvRef{Client: "c", Server: "s"}
	c := NewConversation(&cfg, ref, rec, ConvOptions{ClientSide: 0, RolesKnown: true})
	tick := 0
	now := func() time.Time { tick++; return hixieT0.Add(time.Duration(tick) * time.Millisecond) }
	for _, sg := range segs {
		if sg.gap > 0 {
			c.Gap(sg.side, sg.gap, now())
			continue
		}
		b := []byte(sg.b)
		prev := 0
		for _, k := range append(split(len(b)), len(b)) {
			c.Feed(sg.side, b[prev:k], now())
			prev = k
		}
	}
	sum := c.End(EndFIN, now())
	rec.lines = append(rec.lines, fmt.Sprintf("end %s ws=%v close=%+v stats=%+v", sum.Protocol, sum.IsWebSocket, sum.Close, sum.Stats))
	return rec, sum
}

// hixie75Example is a draft-75 handshake (draft-hixie-75 §1.2).
func hixie75Example() (req, resp string) {
	req = "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: example.com\r\nOrigin: http://example.com\r\nWebSocket-Protocol: sample\r\n\r\n"
	resp = "HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nWebSocket-Origin: http://example.com\r\nWebSocket-Location: ws://example.com/demo\r\nWebSocket-Protocol: sample\r\n\r\n"
	return req, resp
}

// The two worked examples of the draft-76 challenge (draft-hixie-76 §1.3
// and §5.2); the spaces inside the keys are significant.
func TestHixieChallengeExamples(t *testing.T) {
	for _, tc := range []struct {
		key1, key2, key3 string
		n1, n2           uint32
		want             string
	}{
		{"18x 6]8vM;54 *(5:  {   U1]8  z [  8", "1_ tx7X d  <  nw  334J702) 7]o}` 0", "Tm[K T2u",
			155712099, 173347027, "fQJ,fN/4F4!~K~MH"},
		{"4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00", "^n:ds[4U",
			829309203, 259970620, "8jKS'y:G*Co,Wxa-"},
	} {
		n1, c1, _ := hixieKeyNumber(tc.key1)
		n2, c2, _ := hixieKeyNumber(tc.key2)
		if n1 != tc.n1 || n2 != tc.n2 || c1 != "" || c2 != "" {
			t.Errorf("key numbers of %q, %q = %d %q, %d %q; want %d, %d", tc.key1, tc.key2, n1, c1, n2, c2, tc.n1, tc.n2)
		}
		sum, ok := hixieExpected(tc.key1, tc.key2, []byte(tc.key3))
		if !ok || string(sum[:]) != tc.want {
			t.Errorf("answer for %q = %q, %v; want %q", tc.key3, sum[:], ok, tc.want)
		}
		// The same through a whole conversation: no violation, valid.
		req := "GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n" +
			"Sec-WebSocket-Key1: " + tc.key1 + "\r\nSec-WebSocket-Key2: " + tc.key2 + "\r\nOrigin: http://example.com\r\n\r\n" + tc.key3
		resp := "HTTP/1.1 101 WebSocket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Origin: http://example.com\r\nSec-WebSocket-Location: ws://example.com/demo\r\n\r\n" + tc.want
		rec, sum2 := runHixie(DefaultConfig(), []hixieSeg{{side: 0, b: req}, {side: 1, b: resp + "\x00ok\xff"}}, hixieNoSplit)
		if len(rec.hs) != 1 || !rec.hs[0].ChallengeValid || rec.hs[0].Protocol != ProtoHixie76 || len(rec.codes) != 0 {
			t.Errorf("conversation: codes %v lines %v", rec.codes, rec.lines)
		}
		if sum2.Protocol != ProtoHixie76 || len(rec.msgs) != 1 || string(rec.msgs[0].Payload) != "ok" {
			t.Errorf("conversation: %v", rec.lines)
		}
	}
}

func hixieNoSplit(int) []int { return nil }

func hixieOneByOne(n int) []int {
	var c []int
	for i := 1; i < n; i++ {
		c = append(c, i)
	}
	return c
}

// hixieLen encodes n in the 7-bit groups of a length-prefixed frame.
func hixieLen(n uint64) string {
	var g []byte
	for {
		g = append([]byte{byte(n & 0x7F)}, g...)
		n >>= 7
		if n == 0 {
			break
		}
	}
	for i := 0; i < len(g)-1; i++ {
		g[i] |= 0x80
	}
	return string(g)
}

func TestHixieLenEncoding(t *testing.T) {
	// Worked by hand: 300 = 2*128 + 44 -> 0x82 0x2C; 16384 = 1*128^2.
	for n, want := range map[uint64]string{0: "\x00", 127: "\x7f", 128: "\x81\x00", 300: "\x82\x2c", 16384: "\x81\x80\x00"} {
		if got := hixieLen(n); got != want {
			t.Errorf("hixieLen(%d) = %q; want %q", n, got, want)
		}
	}
}

// Frames of each form from the server of a draft-76 conversation: the
// events the framing yields, field by field.
func TestHixieFraming(t *testing.T) {
	req, resp := hixie76Example()
	binPayload := strings.Repeat("\x01\xfe", 150) // 300 bytes, 0xFE and 0x01 inside
	for _, tc := range []struct {
		name   string
		server string // after the handshake
		msgs   []string
		codes  []string
	}{
		{"text", "\x00hello\xff\x00\xff\x00h\xc3\xa9\xff",
			[]string{"text 5 7 hello", "text 0 2 ", "text 3 5 hé"}, nil},
		{"binary", "\x80\x03a\xffb" + "\x80" + hixieLen(300) + binPayload,
			[]string{"binary 3 5 a\xffb", "binary 300 303 " + binPayload}, nil},
		{"close", "\x00bye\xff\xff\x00",
			[]string{"text 3 5 bye", "close 0 2 "}, nil},
		{"invalid utf8", "\x00a\xc3(\xff\x00ok\xff",
			[]string{"text 3 5 a\xc3(", "text 2 4 ok"}, []string{"server hixie.invalid_utf8@0"}},
		{"data after close", "\xff\x00\x00late\xff\x00again\xff",
			[]string{"close 0 2 ", "text 4 6 late", "text 5 7 again"}, []string{"server hixie.data_after_close@1"}},
		{"unknown sentinel type", "\x05abc\xff",
			[]string{"text 3 5 abc"}, []string{"server hixie.bad_frame_type@0"}},
		{"unknown length type", "\x90\x02ab\xff\x01z",
			[]string{"binary 2 4 ab", "binary 1 3 z"}, []string{"server hixie.bad_frame_type@0", "server hixie.bad_frame_type@1"}},
		{"non-minimal length", "\x80\x80\x01q",
			[]string{"binary 1 4 q"}, []string{"server hixie.non_minimal_length@0"}},
		{"cut text", "\x00ab",
			[]string{"text 2 3 ab incomplete"}, nil},
		{"cut length", "\x80\x85",
			[]string{"binary 0 2  incomplete"}, nil},
		{"cut binary", "\x80\x05abc",
			[]string{"binary 3 5 abc incomplete"}, nil},
	} {
		rec, _ := runHixie(DefaultConfig(), []hixieSeg{{side: 0, b: req}, {side: 1, b: resp + tc.server}}, hixieNoSplit)
		var got []string
		for _, m := range rec.msgs {
			s := fmt.Sprintf("%s %d %d %s", m.Opcode, m.Length, m.WireLength, m.Payload)
			if m.Incomplete {
				s += " incomplete"
			}
			got = append(got, s)
		}
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tc.msgs) {
			t.Errorf("%s: messages\n got %q\nwant %q", tc.name, got, tc.msgs)
		}
		if fmt.Sprint(rec.codes) != fmt.Sprint(tc.codes) {
			t.Errorf("%s: violations %v; want %v", tc.name, rec.codes, tc.codes)
		}
		// A frame event for every complete frame, with the type byte.
		complete := 0
		for _, m := range rec.msgs {
			if !m.Incomplete {
				complete++
			}
		}
		if len(rec.frs) != complete {
			t.Errorf("%s: %d frames for %d complete messages", tc.name, len(rec.frs), complete)
		}
	}
}

// Frame and message fields, and the summary, of one exchange worked by
// hand.
func TestHixieFieldsAndSummary(t *testing.T) {
	req, resp := hixie76Example()
	rec, sum := runHixie(DefaultConfig(), []hixieSeg{
		{side: 0, b: req},
		{side: 1, b: resp},
		{side: 0, b: "\x00hi\xff\x80\x02xy"},
		{side: 1, b: "\x00yo\xff"},
		{side: 0, b: "\xff\x00"},
		{side: 1, b: "\xff\x00"},
	}, hixieNoSplit)
	if len(rec.frs) != 5 || len(rec.msgs) != 5 {
		t.Fatalf("events: %v", rec.lines)
	}
	f := rec.frs[1] // client's binary frame
	if f.Dir != FromClient || f.Index != 1 || f.Opcode != OpBinary || f.HixieType != 0x80 || f.Length != 2 ||
		f.HeaderLen != 2 || !f.Fin || f.Masked || string(f.Payload) != "xy" {
		t.Errorf("binary frame: %+v", f)
	}
	if f := rec.frs[0]; f.Opcode != OpText || f.HeaderLen != 1 || f.Length != 2 || f.HixieType != 0 {
		t.Errorf("text frame: %+v", f)
	}
	m := rec.msgs[0]
	if m.SHA256 != sha256.Sum256([]byte("hi")) || !m.ValidUTF8 || m.Index != 0 || m.Frames != 1 {
		t.Errorf("text message: %+v", m)
	}
	// The client closes first; the server answers.
	if !sum.Close.Clean || sum.Close.Initiator != FromClient || !sum.Close.Sent[0] || !sum.Close.Sent[1] {
		t.Errorf("close: %+v", sum.Close)
	}
	cs := sum.Stats[FromClient]
	// 4 (text) + 4 (binary) + 2 (close) wire bytes; 2+2 payload bytes.
	if cs.Frames != 3 || cs.Messages != 2 || cs.Controls != 1 || cs.WireBytes != 10 || cs.PayloadBytes != 4 || cs.Violations != 0 {
		t.Errorf("client stats: %+v", cs)
	}
	ss := sum.Stats[FromServer]
	if ss.Frames != 2 || ss.Messages != 1 || ss.Controls != 1 || ss.WireBytes != 6 || ss.PayloadBytes != 2 {
		t.Errorf("server stats: %+v", ss)
	}
	if sum.Protocol != ProtoHixie76 || !sum.IsWebSocket {
		t.Errorf("summary: %s %v", sum.Protocol, sum.IsWebSocket)
	}

	// Server closes first.
	_, sum = runHixie(DefaultConfig(), []hixieSeg{{side: 0, b: req}, {side: 1, b: resp + "\xff\x00"}, {side: 0, b: "\xff\x00"}}, hixieNoSplit)
	if !sum.Close.Clean || sum.Close.Initiator != FromServer {
		t.Errorf("server-initiated close: %+v", sum.Close)
	}
	// Only one side: not clean.
	_, sum = runHixie(DefaultConfig(), []hixieSeg{{side: 0, b: req}, {side: 1, b: resp + "\xff\x00"}}, hixieNoSplit)
	if sum.Close.Clean || !sum.Close.Sent[FromServer] || sum.Close.Sent[FromClient] {
		t.Errorf("one-sided close: %+v", sum.Close)
	}
}

// A sentinel frame with no end marker keeps MaxPayload bytes, counts and
// hashes all of them.
func TestHixieTextCap(t *testing.T) {
	req, resp := hixie76Example()
	cfg := DefaultConfig()
	cfg.MaxPayload = 16
	body := strings.Repeat("0123456789", 100_000) // 1 MB, no 0xFF
	rec, sum := runHixie(cfg, []hixieSeg{{side: 0, b: req}, {side: 1, b: resp + "\x00" + body + "\xff"}}, func(n int) []int {
		var c []int
		for i := 4096; i < n; i += 4096 {
			c = append(c, i)
		}
		return c
	})
	if len(rec.msgs) != 1 || len(rec.frs) != 1 {
		t.Fatalf("events: %d messages %d frames", len(rec.msgs), len(rec.frs))
	}
	m := rec.msgs[0]
	if m.Length != 1_000_000 || string(m.Payload) != body[:16] || !m.Truncated || m.SHA256 != sha256.Sum256([]byte(body)) || !m.ValidUTF8 {
		t.Errorf("message: len %d payload %q trunc %v", m.Length, m.Payload, m.Truncated)
	}
	if f := rec.frs[0]; f.Length != 1_000_000 || !f.PayloadTruncated || len(f.Payload) != 16 {
		t.Errorf("frame: len %d kept %d", f.Length, len(f.Payload))
	}
	if d := sum.Stats[FromServer]; d.PayloadBytes != 1_000_000 || d.WireBytes != 1_000_002 {
		t.Errorf("stats: %+v", d)
	}
	// The buffer stays at the cap while the frame is open.
	ses := newHixieSession(&cfg, &ConvRef{}, &hixieRec{}, ProtoHixie76)
	ses.feed(FromServer, []byte("\x00"), hixieT0)
	for i := 0; i < 100; i++ {
		ses.feed(FromServer, []byte(body[:10000]), hixieT0)
	}
	if d := &ses.dirs[FromServer]; cap(d.buf) > 64 || d.length != 1_000_000 {
		t.Errorf("open frame: cap %d length %d", cap(d.buf), d.length)
	}
}

// A length-prefixed frame announcing a huge length allocates nothing for it;
// a length of more than 63 bits stops the direction.
func TestHixieHugeLength(t *testing.T) {
	cfg := DefaultConfig()
	rec := &hixieRec{}
	ses := newHixieSession(&cfg, &ConvRef{}, rec, ProtoHixie76)
	ses.feed(FromClient, []byte("\x80\xff\xff\xff\xff\xff\xff\xff\xff\x7fabc"), hixieT0)
	if d := &ses.dirs[FromClient]; d.remain != 1<<63-1-3 || cap(d.buf) > 64 {
		t.Errorf("remain %d cap %d", d.remain, cap(d.buf))
	}
	ses.feed(FromServer, []byte("\x80\x81\x81\x81\x81\x81\x81\x81\x81\x81\x00\x00tail"), hixieT0)
	var sum Summary
	ses.end(EndFIN, hixieT0, &sum)
	if fmt.Sprint(rec.codes) != "[server hixie.frame_too_long@0]" {
		t.Errorf("codes %v", rec.codes)
	}
	if s := sum.Stats[FromServer]; !s.OutOfSync || s.UndecodedTail != 6 || s.WireBytes != 10 {
		t.Errorf("server stats %+v", s)
	}
	if c := sum.Stats[FromClient]; c.Messages != 1 || c.PayloadBytes != 3 {
		t.Errorf("client stats %+v", c)
	}
}

// A draft-76 request answered in the form of draft-75 is a downgrade: no
// challenge answer is read, the bytes after the response are frames.
func TestHixieDowngrade(t *testing.T) {
	req, _ := hixie76Example()
	_, resp75 := hixie75Example()
	rec, sum := runHixie(DefaultConfig(), []hixieSeg{{side: 0, b: req}, {side: 1, b: resp75 + "\x00hello\xff"}}, hixieNoSplit)
	if len(rec.hs) != 1 || rec.hs[0].Protocol != ProtoHixie75 || !rec.hs[0].Upgraded {
		t.Fatalf("handshake: %v", rec.lines)
	}
	if fmt.Sprint(rec.codes) != "[server ws.hixie_downgrade@0]" {
		t.Errorf("codes %v", rec.codes)
	}
	if len(rec.msgs) != 1 || string(rec.msgs[0].Payload) != "hello" || sum.Protocol != ProtoHixie75 {
		t.Errorf("messages: %v", rec.lines)
	}
}

// Draft 75 uses the same framing; its handshake has no challenge.
func TestHixie75Conversation(t *testing.T) {
	req, resp := hixie75Example()
	rec, sum := runHixie(DefaultConfig(), []hixieSeg{{side: 0, b: req}, {side: 1, b: resp}, {side: 0, b: "\x00a\xff"}, {side: 1, b: "\x00b\xff"}}, hixieNoSplit)
	if sum.Protocol != ProtoHixie75 || len(rec.msgs) != 2 || len(rec.codes) != 0 {
		t.Errorf("events: %v", rec.lines)
	}
}

// A refused upgrade (a 4xx with a body) is recorded as for RFC 6455: a
// handshake that did not upgrade, the upgrade_refused note, no frames.
func TestHixieRefused(t *testing.T) {
	req, _ := hixie76Example()
	resp := "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nForbidden"
	rec, sum := runHixie(DefaultConfig(), []hixieSeg{{side: 0, b: req}, {side: 1, b: resp}}, hixieNoSplit)
	if len(rec.hs) != 1 || rec.hs[0].Upgraded || rec.hs[0].Protocol != ProtoHixie76 || rec.hs[0].Response.StatusCode != 403 {
		t.Fatalf("handshake: %v", rec.lines)
	}
	if fmt.Sprint(rec.codes) != "[server ws.upgrade_refused@0]" || len(rec.msgs) != 0 || sum.IsWebSocket {
		t.Errorf("codes %v lines %v", rec.codes, rec.lines)
	}
}

// A gap stops the direction, reporting the frame in progress as incomplete.
func TestHixieGap(t *testing.T) {
	req, resp := hixie76Example()
	rec, sum := runHixie(DefaultConfig(), []hixieSeg{
		{side: 0, b: req}, {side: 1, b: resp + "\x00ab"}, {side: 1, gap: 10}, {side: 1, b: "cd\xff\x00x\xff"}, {side: 0, b: "\x00c\xff"},
	}, hixieNoSplit)
	if len(rec.msgs) != 2 || !rec.msgs[0].Incomplete || string(rec.msgs[0].Payload) != "ab" || string(rec.msgs[1].Payload) != "c" {
		t.Errorf("messages: %v", rec.lines)
	}
	s := sum.Stats[FromServer]
	if !s.OutOfSync || s.GapBytes != 10 || s.UndecodedTail != 6 {
		t.Errorf("server stats: %+v", s)
	}
}

// hixieScenarios are conversations for the chunking and fuzz tests.
func hixieScenarios() map[string][]hixieSeg {
	req76, resp76 := hixie76Example()
	req75, resp75 := hixie75Example()
	big := strings.Repeat("é€𝄞x", 500)
	return map[string][]hixieSeg{
		"76": {{side: 0, b: req76 + "\x00early\xff"}, {side: 1, b: resp76 + "\x00hello\xff\x80" + hixieLen(3000) + strings.Repeat("\xff\x00", 1500)},
			{side: 0, b: "\x00" + big + "\xff\xff\x00"}, {side: 1, b: "\xff\x00"}},
		"75":        {{side: 0, b: req75}, {side: 1, b: resp75 + "\x00a\xff\x00b\xff"}, {side: 0, b: "\x00\xff\x80\x00"}},
		"bad":       {{side: 0, b: req76}, {side: 1, b: resp76 + "\x05x\xff\x00\xc3\xff\xff\x00\x00z\xff\x90\x01q\xff\x01a\x80\x80\x02hi"}},
		"downgrade": {{side: 0, b: req76}, {side: 1, b: resp75 + "\x00a\xff\x00bc"}},
		"too long":  {{side: 0, b: req76}, {side: 1, b: resp76 + "\x00x\xff\x80\x81\x81\x81\x81\x81\x81\x81\x81\x81\x00rest"}},
	}
}

// Feeding whole, a byte at a time or in random pieces gives the same
// events, apart from the capture times (each piece has its own).
func TestHixieChunkingInvariance(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	for name, segs := range hixieScenarios() {
		want := hixieStripTimes(runHixie(DefaultConfig(), segs, hixieNoSplit))
		if len(want) < 4 {
			t.Fatalf("%s: too few events: %v", name, want)
		}
		if got := hixieStripTimes(runHixie(DefaultConfig(), segs, hixieOneByOne)); got != want {
			t.Errorf("%s byte by byte:\n got %s\nwant %s", name, got, want)
		}
		for i := 0; i < 20; i++ {
			if got := hixieStripTimes(runHixie(DefaultConfig(), segs, randomSplit(r))); got != want {
				t.Errorf("%s random split %d:\n got %s\nwant %s", name, i, got, want)
				break
			}
		}
	}
}

// hixieShort is the first 40 bytes of a payload, for event lines.
func hixieShort(p []byte) []byte { return p[:min(len(p), 40)] }

// hixieStripTimes joins the event lines without their start= and end= times,
// the client's events first, then the server's: how the events of the two
// directions interleave depends on when the bytes of each were fed.
func hixieStripTimes(rec *hixieRec, _ *Summary) string {
	var b [3]strings.Builder
	for _, l := range rec.lines {
		if i := strings.Index(l, " start="); i >= 0 {
			l = l[:i]
		}
		k := 0
		switch {
		case strings.Contains(l, " client "):
			k = 1
		case strings.Contains(l, " server "):
			k = 2
		}
		b[k].WriteString(l)
		b[k].WriteByte('\n')
	}
	return b[0].String() + b[1].String() + b[2].String()
}

// FuzzHixieFeed feeds arbitrary frame bytes to both directions of a hixie
// session, whole and in random pieces: no panic, the same events either
// way, kept payloads within the cap, and every byte accounted for.
func FuzzHixieFeed(f *testing.F) {
	for _, segs := range hixieScenarios() {
		var c, s []byte
		for _, sg := range segs[1:] {
			if sg.side == 0 {
				c = append(c, sg.b...)
			} else {
				s = append(s, sg.b...)
			}
		}
		f.Add(c, s, int64(len(c)), true)
	}
	f.Add([]byte("\x00\xff"), []byte("\x80\x81"), int64(1), false)
	f.Fuzz(func(t *testing.T, c, s []byte, seed int64, v76 bool) {
		if len(c)+len(s) > 1<<16 {
			return
		}
		cfg := DefaultConfig()
		cfg.MaxPayload = 32
		proto := ProtoHixie75
		if v76 {
			proto = ProtoHixie76
		}
		run := func(split func(int) []int) (string, Summary) {
			rec := &hixieRec{}
			ses := newHixieSession(&cfg, &ConvRef{}, rec, proto)
			for i, b := range [][]byte{c, s} {
				prev := 0
				for _, k := range append(split(len(b)), len(b)) {
					ses.feed(Direction(i), b[prev:k], hixieT0)
					prev = k
				}
			}
			var sum Summary
			ses.end(EndFIN, hixieT0, &sum)
			for _, m := range rec.msgs {
				if len(m.Payload) > cfg.MaxPayload || uint64(len(m.Payload)) > m.Length {
					t.Fatalf("message keeps %d of %d bytes", len(m.Payload), m.Length)
				}
			}
			return strings.Join(rec.lines, "\n"), sum
		}
		a, sa := run(hixieNoSplit)
		b, _ := run(randomSplit(rand.New(rand.NewSource(seed))))
		if a != b {
			t.Fatalf("whole and split differ:\nwhole %s\nsplit %s", a, b)
		}
		for i, n := range []int{len(c), len(s)} {
			st := sa.Stats[i]
			if st.WireBytes+st.UndecodedTail != uint64(n) {
				t.Fatalf("dir %d: wire %d + undecoded %d != %d bytes fed", i, st.WireBytes, st.UndecodedTail, n)
			}
		}
	})
}

// BenchmarkHixieFeed decodes text frames of 100 bytes and a length-prefixed
// frame of 4 KB from one direction, in 1460-byte pieces.
func BenchmarkHixieFeed(b *testing.B) {
	var stream []byte
	for len(stream) < 64<<10 {
		stream = append(stream, 0x00)
		stream = append(stream, strings.Repeat("é123456789", 9)[:99]...)
		stream = append(stream, 0xFF)
		if len(stream)%7 == 0 {
			stream = append(stream, "\x80"+hixieLen(4096)+strings.Repeat("\x01", 4096)...)
		}
	}
	cfg := DefaultConfig()
	ses := newHixieSession(&cfg, &ConvRef{}, hixieNopSink{}, ProtoHixie76)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for off := 0; off < len(stream); off += 1460 {
			ses.feed(FromServer, stream[off:min(off+1460, len(stream))], hixieT0)
		}
	}
}

type hixieNopSink struct{}

func (hixieNopSink) Handshake(*ConvRef, *Handshake) {}
func (hixieNopSink) Frame(*ConvRef, *Frame)         {}
func (hixieNopSink) Message(*ConvRef, *Message)     {}
func (hixieNopSink) Violation(*ConvRef, *Violation) {}
func (hixieNopSink) Gap(*ConvRef, *Gap)             {}
func (hixieNopSink) End(*ConvRef, *Summary)         {}
