package dissect

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"reflect"
	"runtime"
	"slices"
	"testing"

	"github.com/wsdump/wsdump/internal/testutil"
)

// deflater compresses the messages of one direction as a permessage-deflate
// sender does (RFC 7692 §7.2.1): a sync flush after each message, its
// trailing 00 00 FF FF removed; with takeover one compressor runs across
// messages, without it each message starts afresh.
type deflater struct {
	takeover bool
	buf      bytes.Buffer
	w        *flate.Writer
}

func newDeflater(takeover bool) *deflater {
	d := &deflater{takeover: takeover}
	d.w, _ = flate.NewWriter(&d.buf, 6)
	return d
}

func (d *deflater) compress(p []byte) []byte {
	d.buf.Reset()
	if !d.takeover {
		d.w.Reset(&d.buf)
	}
	d.w.Write(p)
	d.w.Flush()
	out := bytes.Clone(d.buf.Bytes())
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		panic("no sync flush")
	}
	return out[:len(out)-4]
}

// newDeflateTestSession returns a session with permessage-deflate (or a
// per-frame draft) negotiated as p says.
func newDeflateTestSession(cfg Config, p DeflateParams) (*wsSession, *recordSinkFrames) {
	rec := &recordSinkFrames{}
	c := cfg
	opt := sessionOptions{AllowedRSV: 0x4, Inflater: newDeflateInflaters(&c, &p)}
	return newWSSession(&c, &ConvRef{ID: 1}, rec, opt), rec
}

func pmd(noTakeover bool) DeflateParams {
	return DeflateParams{Extension: extPerMessageDeflate, NoContextTakeover: [2]bool{noTakeover, noTakeover}, MaxWindowBits: [2]int{15, 15}}
}

// fragments cuts p into n pieces of random sizes (some may be empty).
func fragments(rng *rand.Rand, p []byte, n int) [][]byte {
	var out [][]byte
	for i := 0; i < n-1; i++ {
		k := rng.Intn(len(p) + 1)
		out = append(out, p[:k])
		p = p[k:]
	}
	return append(out, p)
}

// randomText is text with enough repetition to compress.
func randomText(rng *rand.Rand, n int) []byte {
	words := []string{"alpha ", "beta ", "gamma ", "δέλτα ", "{\"id\":", "42,", "\"x\":[1,2,3]} ", "\n"}
	var b []byte
	for len(b) < n {
		b = append(b, words[rng.Intn(len(words))]...)
	}
	return b[:n]
}

func dataMessages(rec *recordSinkFrames, d Direction) []Message {
	var out []Message
	for _, m := range rec.messages() {
		if m.Dir == d && !m.Opcode.IsControl() {
			out = append(out, m)
		}
	}
	return out
}

// TestDeflateRoundTrip: random message sequences compressed with
// compress/flate, with and without context takeover, some sent
// uncompressed, split into random fragments and fed in random pieces, come
// out exactly as they went in; every split gives the same events.
func TestDeflateRoundTrip(t *testing.T) {
	for _, noTakeover := range []bool{false, true} {
		for seed := int64(1); seed <= 12; seed++ {
			rng := rand.New(rand.NewSource(seed))
			def := newDeflater(!noTakeover)
			var sent [][]byte
			var compressed []bool
			var wire []byte
			for i := 0; i < 1+rng.Intn(30); i++ {
				var p []byte
				switch rng.Intn(4) {
				case 0:
					p = randomText(rng, rng.Intn(200))
				case 1:
					p = randomText(rng, rng.Intn(100_000))
				case 2:
					p = make([]byte, rng.Intn(40_000))
					rng.Read(p)
				case 3:
					p = nil // empty message
				}
				op := OpBinary
				if rng.Intn(2) == 0 {
					op = OpText
					p = bytes.ToValidUTF8(p, []byte("?"))
				}
				comp := rng.Intn(5) != 0
				payload := p
				if comp {
					payload = def.compress(p)
				}
				parts := fragments(rng, payload, 1+rng.Intn(4))
				for k, part := range parts {
					f := wsTestFrame{fin: k == len(parts)-1, op: OpContinuation, payload: part}
					if k == 0 {
						f.op = op
						if comp {
							f.rsv = 4
						}
					}
					wire = append(wire, buildWSFrame(f)...)
					if k == 0 && rng.Intn(3) == 0 {
						wire = append(wire, buildWSFrame(wsTestFrame{fin: true, op: OpPing, payload: []byte("p")})...)
					}
				}
				sent = append(sent, p)
				compressed = append(compressed, comp)
			}
			cfg := frameTestCfg
			cfg.MaxPayload = 0
			var ref []recEventFrames
			for split := 0; split < 3; split++ {
				s, rec := newDeflateTestSession(cfg, pmd(noTakeover))
				if split == 0 {
					s.feed(FromServer, wire, frameT0)
				} else {
					for _, c := range fragments(rng, wire, 1+rng.Intn(50)) {
						s.feed(FromServer, c, frameT0)
					}
				}
				s.end(EndFIN, frameT0, nil)
				if v := rec.violations(); len(v) != 0 {
					t.Fatalf("noTakeover=%v seed %d: violations %v", noTakeover, seed, v)
				}
				got := dataMessages(rec, FromServer)
				if len(got) != len(sent) {
					t.Fatalf("noTakeover=%v seed %d: %d messages; sent %d", noTakeover, seed, len(got), len(sent))
				}
				for i, m := range got {
					if !bytes.Equal(m.Payload, sent[i]) || m.Length != uint64(len(sent[i])) || m.Compressed != compressed[i] ||
						m.Inflated != compressed[i] || m.InflateErr != "" || m.Truncated || m.SHA256 != sha256.Sum256(sent[i]) {
						t.Fatalf("noTakeover=%v seed %d message %d: compressed %v inflated %v err %q len %d; sent %d bytes compressed=%v",
							noTakeover, seed, i, m.Compressed, m.Inflated, m.InflateErr, m.Length, len(sent[i]), compressed[i])
					}
				}
				if split == 0 {
					ref = rec.events
				} else if !reflect.DeepEqual(rec.events, ref) {
					t.Fatalf("noTakeover=%v seed %d: events depend on how the bytes were split", noTakeover, seed)
				}
			}
		}
	}
}

func TestDeflateEmptyAndUncompressed(t *testing.T) {
	s, rec := newDeflateTestSession(frameTestCfg, pmd(false))
	def := newDeflater(true)
	s.feed(FromServer, catFrames(
		buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: def.compress([]byte("Hello"))}),
		buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: []byte{0x00}}), // empty, RFC 7692 §7.2.3.6
		buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: nil}),          // empty, nothing at all
		buildWSFrame(wsTestFrame{fin: true, op: OpText, payload: []byte("plain")}),
		// RFC 7692 §7.2.3.2: "Hello" again, referring to the first message.
		buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: def.compress([]byte("Hello"))}),
	), frameT0)
	var got []string
	for _, m := range dataMessages(rec, FromServer) {
		got = append(got, fmt.Sprintf("%q c=%v i=%v %q", m.Payload, m.Compressed, m.Inflated, m.InflateErr))
	}
	want := []string{`"Hello" c=true i=true ""`, `"" c=true i=true ""`, `"" c=true i=true ""`, `"plain" c=false i=false ""`, `"Hello" c=true i=true ""`}
	if !slices.Equal(got, want) {
		t.Fatalf("messages\n%q\nwant\n%q", got, want)
	}
	// The second "Hello" is 3 bytes on the wire: a back reference.
	if f := rec.frames()[4]; len(f.Payload) >= 7 {
		t.Fatalf("second Hello is %d bytes compressed; want a back reference into the first", len(f.Payload))
	}
}

// TestDeflateRFCExamples inflates the byte sequences of RFC 7692 §7.2.3.
func TestDeflateRFCExamples(t *testing.T) {
	s, rec := newDeflateTestSession(frameTestCfg, pmd(false))
	s.feed(FromServer, catFrames(
		// §7.2.3.1: "Hello" in one compressed frame.
		[]byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},
		// §7.2.3.1: the same, fragmented.
		[]byte{0x41, 0x03, 0xf2, 0x48, 0xcd},
		[]byte{0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00},
		// §7.2.3.2: "Hello" again with the sliding window of the first two.
		[]byte{0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00},
		// §7.2.3.3: "Hello" in a stored block.
		[]byte{0xc1, 0x0b, 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00},
		// §7.2.3.5: two deflate blocks in one message.
		[]byte{0xc1, 0x0d, 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00},
		// §7.2.3.6: a block with BFINAL set.
		[]byte{0xc1, 0x08, 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00},
	), frameT0)
	if v := rec.violations(); len(v) != 0 {
		t.Fatalf("violations %v", v)
	}
	var got []string
	for _, m := range dataMessages(rec, FromServer) {
		got = append(got, fmt.Sprintf("%s %q %q", m.Opcode, m.Payload, m.InflateErr))
	}
	hello := `text "Hello" ""`
	want := []string{hello, hello, hello, hello, hello, hello}
	if !slices.Equal(got, want) {
		t.Fatalf("messages %q; want %q", got, want)
	}
}

func TestDeflateContextLost(t *testing.T) {
	for _, noTakeover := range []bool{false, true} {
		s, rec := newDeflateTestSession(frameTestCfg, pmd(noTakeover))
		def := newDeflater(!noTakeover)
		m1 := def.compress([]byte("first message, fine"))
		bad := []byte{0xff, 0xff, 0xff} // reserved block type 11
		def2 := newDeflater(!noTakeover)
		_ = def2.compress([]byte("lost"))
		m3 := def2.compress([]byte("after the bad one"))
		m4 := def2.compress([]byte("and another"))
		s.feed(FromClient, catFrames(
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, mask: maskKey1, payload: m1}),
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, mask: maskKey2, payload: bad}),
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, mask: maskKey1, payload: m3}),
			buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey1, payload: []byte("plain")}),
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, mask: maskKey2, payload: m4}),
		), frameT0)
		ms := dataMessages(rec, FromClient)
		var got []string
		for _, m := range ms {
			got = append(got, fmt.Sprintf("%q i=%v %q", m.Payload, m.Inflated, m.InflateErr))
		}
		var want []string
		if noTakeover {
			want = []string{
				`"first message, fine" i=true ""`,
				`"" i=true "deflate: reserved block type 3 (compressed byte 0)"`,
				`"after the bad one" i=true ""`,
				`"plain" i=false ""`,
				`"and another" i=true ""`,
			}
		} else {
			want = []string{
				`"first message, fine" i=true ""`,
				`"" i=true "deflate: reserved block type 3 (compressed byte 0)"`,
				fmt.Sprintf("%q i=false %q", m3, errContextLost),
				`"plain" i=false ""`,
				fmt.Sprintf("%q i=false %q", m4, errContextLost),
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("noTakeover=%v: messages\n%q\nwant\n%q", noTakeover, got, want)
		}
		wantV := []string{"client ws.inflate_failed@1"}
		if !noTakeover {
			wantV = append(wantV, "client ws.compression_context_lost@2")
		}
		if v := rec.violations(); !slices.Equal(v, wantV) {
			t.Errorf("noTakeover=%v: violations %v; want %v", noTakeover, v, wantV)
		}
		if ms[1].ValidUTF8 && ms[1].InflateErr == "" {
			t.Errorf("failed message has no error")
		}
	}
}

func TestDeflateIncompleteMessage(t *testing.T) {
	s, rec := newDeflateTestSession(frameTestCfg, pmd(false))
	text := bytes.Repeat([]byte("some text that repeats "), 200)
	c := newDeflater(true).compress(text)
	s.feed(FromServer, buildWSFrame(wsTestFrame{rsv: 4, op: OpText, payload: c[:len(c)/2]}), frameT0)
	var sum Summary
	s.end(EndRST, frameT0, &sum)
	ms := dataMessages(rec, FromServer)
	if len(ms) != 1 {
		t.Fatalf("%d messages", len(ms))
	}
	m := ms[0]
	if !m.Incomplete || !m.Inflated || m.InflateErr != errIncomplete.Error() || len(m.Payload) == 0 || !bytes.HasPrefix(text, m.Payload) {
		t.Fatalf("incomplete message: incomplete=%v inflated=%v err %q, %d bytes, prefix of the text %v",
			m.Incomplete, m.Inflated, m.InflateErr, len(m.Payload), bytes.HasPrefix(text, m.Payload))
	}
	if v := rec.violations(); len(v) != 0 {
		t.Fatalf("violations %v", v)
	}
}

func TestDeflateRSV1Violations(t *testing.T) {
	s, rec := newDeflateTestSession(frameTestCfg, pmd(false))
	def := newDeflater(true)
	c := def.compress([]byte("abcdef"))
	s.feed(FromServer, catFrames(
		buildWSFrame(wsTestFrame{rsv: 4, op: OpText, payload: c[:2]}),
		buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpPing, payload: []byte("x")}),
		buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpContinuation, payload: c[2:]}),
	), frameT0)
	want := []string{"server ws.compressed_control_frame@1", "server ws.compressed_continuation@2"}
	if v := rec.violations(); !slices.Equal(v, want) {
		t.Fatalf("violations %v; want %v", v, want)
	}
	if ms := dataMessages(rec, FromServer); len(ms) != 1 || string(ms[0].Payload) != "abcdef" {
		t.Fatalf("messages %+v", ms)
	}
}

// TestDeflatePerFrame covers x-webkit-deflate-frame: each frame with RSV1
// is compressed on its own, with the window kept across frames; frames
// without RSV1 are plain, also within one message.
func TestDeflatePerFrame(t *testing.T) {
	for _, noTakeover := range []bool{false, true} {
		p := DeflateParams{Extension: extWebkitDeflate, PerFrame: true, NoContextTakeover: [2]bool{noTakeover, noTakeover}, MaxWindowBits: [2]int{15, 15}}
		s, rec := newDeflateTestSession(frameTestCfg, p)
		def := newDeflater(!noTakeover)
		s.feed(FromClient, catFrames(
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, mask: maskKey1, payload: def.compress([]byte("hello hello"))}),
			buildWSFrame(wsTestFrame{rsv: 4, op: OpText, mask: maskKey1, payload: def.compress([]byte("hello, "))}),
			buildWSFrame(wsTestFrame{op: OpContinuation, mask: maskKey2, payload: []byte("plain, ")}),
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpContinuation, mask: maskKey1, payload: def.compress([]byte("hello again"))}),
			buildWSFrame(wsTestFrame{fin: true, op: OpText, mask: maskKey2, payload: []byte("all plain")}),
		), frameT0)
		if v := rec.violations(); len(v) != 0 {
			t.Fatalf("violations %v", v)
		}
		var got []string
		for _, m := range dataMessages(rec, FromClient) {
			got = append(got, fmt.Sprintf("%q c=%v i=%v %q", m.Payload, m.Compressed, m.Inflated, m.InflateErr))
		}
		want := []string{`"hello hello" c=true i=true ""`, `"hello, plain, hello again" c=true i=true ""`, `"all plain" c=false i=false ""`}
		if !slices.Equal(got, want) {
			t.Fatalf("noTakeover=%v: messages %q; want %q", noTakeover, got, want)
		}
	}
}

// bitWriter packs DEFLATE bit fields (RFC 1951 §3.1.1).
type bitWriter struct {
	b   []byte
	acc uint64
	n   uint
}

// bits writes the n low bits of v, least significant first.
func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= v << w.n
	w.n += n
	for w.n >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// code writes a Huffman code of n bits, most significant bit first.
func (w *bitWriter) code(c uint64, n uint) {
	for i := int(n) - 1; i >= 0; i-- {
		w.bits(c>>uint(i)&1, 1)
	}
}

func (w *bitWriter) align() {
	if w.n > 0 {
		w.bits(0, 8-w.n)
	}
}

// deflateBomb returns a permessage-deflate payload that inflates to n
// zero bytes (n-1 a multiple of 258) at about 1 bit per 129 bytes: one
// dynamic block whose code for "length 258" and for "distance 1" are one
// bit each, then the sync flush minus its last 4 bytes.
func deflateBomb(n int) []byte {
	var w bitWriter
	w.bits(0, 1)       // BFINAL
	w.bits(2, 2)       // dynamic Huffman
	w.bits(286-257, 5) // HLIT: literal/length codes 0..285
	w.bits(0, 5)       // HDIST: one distance code
	w.bits(18-4, 4)    // HCLEN: 18 code length codes
	// Code length code lengths in the order of RFC 1951 §3.2.7: 18 gets
	// 1 bit, 1 and 2 get 2 bits (codes 0, 10, 11).
	order := []int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1}
	for _, sym := range order {
		switch sym {
		case 18:
			w.bits(1, 3)
		case 1, 2:
			w.bits(2, 3)
		default:
			w.bits(0, 3)
		}
	}
	cl18 := func(zeros int) { w.code(0, 1); w.bits(uint64(zeros-11), 7) }
	cl1 := func() { w.code(2, 2) }
	cl2 := func() { w.code(3, 2) }
	// Literal/length lengths: 0 -> 2, 1..255 -> 0, 256 -> 2, 257..284 -> 0, 285 -> 1.
	cl2()
	cl18(138)
	cl18(117)
	cl2()
	cl18(28)
	cl1()
	// Distance lengths: code 0 -> 1.
	cl1()
	// Codes: 285 = 0, literal 0 = 10, end of block = 11; distance 0 = 0.
	w.code(2, 2) // literal 0
	for left := n - 1; left > 0; left -= 258 {
		w.code(0, 1) // length 258
		w.code(0, 1) // distance 1
	}
	w.code(3, 2) // end of block
	w.bits(0, 3) // empty stored block of the sync flush
	w.align()
	return w.b
}

// TestDeflateBomb: a message of about 1 MB that inflates to 1 GiB is cut
// at MaxInflate with a ws.inflate_limit violation; memory stays bounded and
// the next message of a no-context-takeover direction decodes.
func TestDeflateBomb(t *testing.T) {
	const total = 1<<30 + 1 - (1<<30)%258
	bomb := deflateBomb(total)
	if testing.Verbose() {
		t.Logf("bomb: %d bytes inflating to %d", len(bomb), total)
	}
	// The bomb is valid DEFLATE: check its start with the standard reader.
	r := flate.NewReader(bytes.NewReader(append(bytes.Clone(bomb), 0, 0, 0xff, 0xff)))
	head := make([]byte, 1<<20)
	if n, err := r.Read(head); err != nil || n == 0 || bytes.IndexFunc(head[:n], func(r rune) bool { return r != 0 }) >= 0 {
		t.Fatalf("bomb does not inflate to zeros: %d bytes, %v", n, err)
	}
	for _, noTakeover := range []bool{true, false} {
		cfg := frameTestCfg
		s, rec := newDeflateTestSession(cfg, pmd(noTakeover))
		frames := catFrames(
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpBinary, payload: bomb}),
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: newDeflater(false).compress([]byte("next"))}),
		)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s.feed(FromServer, frames, frameT0)
		runtime.ReadMemStats(&after)
		// Everything allocated while decoding, an upper bound on the growth
		// of the heap.
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
			t.Errorf("decoding the bomb allocated %d MiB", grew>>20)
		} else if testing.Verbose() {
			t.Logf("noTakeover=%v: decoding the bomb allocated %.1f MiB", noTakeover, float64(grew)/(1<<20))
		}
		ms := dataMessages(rec, FromServer)
		if len(ms) != 2 {
			t.Fatalf("%d messages", len(ms))
		}
		m := ms[0]
		limit := uint64(cfg.MaxInflate)
		if m.Length != limit || !m.Truncated || !m.Inflated || m.InflateErr == "" || m.SHA256 != sha256.Sum256(make([]byte, limit)) {
			t.Fatalf("bomb message: length %d truncated %v inflated %v err %q", m.Length, m.Truncated, m.Inflated, m.InflateErr)
		}
		wantV := []string{"server ws.inflate_limit@0"}
		next := `"next" ""`
		if !noTakeover {
			wantV = append(wantV, "server ws.compression_context_lost@1")
			next = fmt.Sprintf("%q %q", ms[1].Payload, errContextLost)
		}
		if v := rec.violations(); !slices.Equal(v, wantV) {
			t.Errorf("violations %v; want %v", v, wantV)
		}
		if got := fmt.Sprintf("%q %q", ms[1].Payload, ms[1].InflateErr); got != next {
			t.Errorf("next message %s; want %s", got, next)
		}
	}
}

func TestDeflateRatioGuard(t *testing.T) {
	cfg := frameTestCfg
	cfg.MaxInflateRatio = 100
	s, rec := newDeflateTestSession(cfg, pmd(true))
	zeros := make([]byte, 3<<20)
	s.feed(FromServer, buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpBinary, payload: newDeflater(false).compress(zeros)}), frameT0)
	ms := dataMessages(rec, FromServer)
	if len(ms) != 1 || !ms[0].Truncated || ms[0].Length <= ratioFloor || ms[0].Length >= uint64(len(zeros)) {
		t.Fatalf("messages %+v", ms)
	}
	if v := rec.violations(); !slices.Equal(v, []string{"server ws.inflate_limit@0"}) {
		t.Fatalf("violations %v", v)
	}
}

// TestDeflateSmallWindow: with a negotiated window of 2^9 bytes
// back-references reach at most that far, and messages compressed with
// that window decode.
func TestDeflateSmallWindow(t *testing.T) {
	p := pmd(false)
	p.MaxWindowBits = [2]int{9, 9}
	s, rec := newDeflateTestSession(frameTestCfg, p)
	// compress/flate always uses a 32 KiB window; messages of 200 bytes
	// refer back at most 400 bytes, inside a 512-byte window.
	def := newDeflater(true)
	rng := rand.New(rand.NewSource(9))
	var sent [][]byte
	for i := 0; i < 50; i++ {
		m := randomText(rng, 200)
		sent = append(sent, m)
		s.feed(FromServer, buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpBinary, payload: def.compress(m)}), frameT0)
	}
	ms := dataMessages(rec, FromServer)
	for i, m := range ms {
		if !bytes.Equal(m.Payload, sent[i]) {
			// A reference beyond 512 bytes is possible with flate's 32 KiB
			// window; it must then fail, not give wrong bytes.
			if m.InflateErr == "" {
				t.Fatalf("message %d differs without an error", i)
			}
			return
		}
	}
	z := s.dirs[FromServer].inflater.(*deflateInflater)
	if z.window != 512 || z.st == nil || z.st.maxDist != 512 {
		t.Fatalf("window %d, decoder %v", z.window, z.st != nil)
	}
}

func FuzzDeflateSession(f *testing.F) {
	def := newDeflater(true)
	f.Add(def.compress([]byte("Hello")), def.compress([]byte("Hello again")), uint8(0))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, uint8(1))
	f.Add(deflateBomb(1+258*100), []byte{0x00}, uint8(2))
	f.Add([]byte{0xff, 0xff}, []byte{}, uint8(3))
	f.Fuzz(func(t *testing.T, a, b []byte, mode uint8) {
		cfg := frameTestCfg
		cfg.MaxInflate = 1 << 12
		cfg.MaxPayload = 100
		p := pmd(mode&1 != 0)
		p.PerFrame = mode&2 != 0
		s, rec := newDeflateTestSession(cfg, p)
		wire := catFrames(
			buildWSFrame(wsTestFrame{rsv: 4, op: OpText, payload: a}),
			buildWSFrame(wsTestFrame{fin: true, rsv: mode & 4, op: OpContinuation, payload: b}),
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpBinary, payload: b}),
			buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpBinary, payload: a}),
		)
		cut := int(mode) % (len(wire) + 1)
		s.feed(FromServer, wire[:cut], frameT0)
		s.feed(FromServer, wire[cut:], frameT0)
		var sum Summary
		s.end(EndFIN, frameT0, &sum)
		for _, m := range dataMessages(rec, FromServer) {
			if m.Length > uint64(cfg.MaxInflate)+uint64(len(a)+len(b)) || len(m.Payload) > cfg.MaxPayload {
				t.Fatalf("message of %d bytes, %d kept", m.Length, len(m.Payload))
			}
		}
	})
}

// BenchmarkInflate measures inflating throughput in bytes of output.
func BenchmarkInflate(b *testing.B) {
	rng := rand.New(rand.NewSource(1))
	for _, tc := range []struct {
		name     string
		size     int
		takeover bool
	}{
		{"text-200B-takeover", 200, true},
		{"text-200B-fresh", 200, false},
		{"text-16KiB-takeover", 16 << 10, true},
		{"text-1MiB-fresh", 1 << 20, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			def := newDeflater(tc.takeover)
			var wire []byte
			const msgs = 64
			for i := 0; i < msgs; i++ {
				wire = append(wire, buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: def.compress(randomText(rng, tc.size))})...)
			}
			cfg := frameTestCfg
			b.SetBytes(int64(tc.size * msgs))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := cfg
				inf := newDeflateInflaters(&c, &DeflateParams{NoContextTakeover: [2]bool{!tc.takeover, !tc.takeover}, MaxWindowBits: [2]int{15, 15}})
				s := newWSSession(&c, &ConvRef{}, discardSinkFrames{}, sessionOptions{AllowedRSV: 4, Inflater: inf})
				s.feed(FromServer, wire, frameT0)
			}
		})
	}
}

// TestDeflateSteadyStateNoAllocs: once warmed up, inflating a message with
// context takeover allocates nothing.
func TestDeflateSteadyStateNoAllocs(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; .ci/run runs this test in a normal build")
	}
	s, _ := newDeflateTestSession(frameTestCfg, pmd(false))
	def := newDeflater(true)
	rng := rand.New(rand.NewSource(3))
	var frames [][]byte
	for i := 0; i < 200; i++ {
		frames = append(frames, buildWSFrame(wsTestFrame{fin: true, rsv: 4, op: OpText, payload: def.compress(randomText(rng, 300))}))
	}
	s.sink = discardSinkFrames{}
	for _, f := range frames[:100] {
		s.feed(FromServer, f, frameT0)
	}
	i := 100
	allocs := testing.AllocsPerRun(90, func() {
		s.feed(FromServer, frames[i], frameT0)
		i++
	})
	if allocs > 0.5 {
		t.Fatalf("%.1f allocations per message", allocs)
	}
}
