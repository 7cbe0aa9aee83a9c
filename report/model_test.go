package report

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/testutil"
)

// TestAppendJSONStringDecodesLikeEncodingJSON compares the hand-written
// string encoder with encoding/json: both must decode to the same string
// (invalid UTF-8 replaced by U+FFFD), and ours must be valid JSON.
func TestAppendJSONStringDecodesLikeEncodingJSON(t *testing.T) {
	cases := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnl\ncr\r", "\x00\x01\x08\x0c\x1f\x7f",
		"héllo wörld ✓ 世界 🎉", "bad \xff\xfe utf8", "cut rune \xe4\xb8", "\u2028\u2029", "<&>",
		"\xed\xa0\x80 surrogate", "\xf4\x90\x80\x80 above max",
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		b := make([]byte, rng.Intn(12))
		for j := range b {
			const alphabet = "a\"\\\n\x00\x1f\xc3\xa9\xe2\x80\xa8\xff\xf0\x9f"
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		got := appendJSONString(nil, s)
		gotB := appendJSONString(nil, []byte(s))
		if !bytes.Equal(got, gotB) {
			t.Fatalf("%q: string and []byte encodings differ: %s %s", s, got, gotB)
		}
		if !json.Valid(got) {
			t.Fatalf("%q: not valid JSON: %s", s, got)
		}
		var dec, want string
		if err := json.Unmarshal(got, &dec); err != nil {
			t.Fatal(err)
		}
		ref, _ := json.Marshal(s)
		json.Unmarshal(ref, &want)
		if dec != want {
			t.Errorf("%q: decodes to %q; encoding/json gives %q", s, dec, want)
		}
	}
	if got := string(appendJSONString(nil, "a\"b\\c\nd\x01<")); got != `"a\"b\\c\nd\u0001<"` {
		t.Errorf("got %s", got)
	}
}

// TestMessageJSONFields checks a message object field by field, decoded
// with encoding/json.
func TestMessageJSONFields(t *testing.T) {
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC)
	m := &dissect.Message{
		Dir: dissect.FromServer, Index: 7, Opcode: dissect.OpClose, Frames: 1,
		Start: t0, End: t0.Add(time.Millisecond), WireLength: 9, Length: 7,
		Payload: []byte{0x03, 0xe9, 'g', 'o', 'n', 'e', '"'}, ValidUTF8: true,
		HasCloseCode: true, CloseCode: 1001, CloseReason: "gone\"",
	}
	m.SHA256[0] = 0xab
	var got map[string]any
	b := appendMessage(nil, 42, m)
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	want := map[string]any{
		"conversation": 42.0, "index": 7.0, "time": "2024-01-02T03:04:05.124456789Z",
		"start": "2024-01-02T03:04:05.123456789Z", "from": "server", "opcode": "close",
		"frames": 1.0, "compressed": false, "length": 7.0, "wire_length": 9.0,
		"data": "A+lnb25lIg==", "truncated": false,
		"sha256": "ab" + strings.Repeat("0", 62), "code": 1001.0, "reason": "gone\"",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v; want %#v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("fields %v; want exactly %d", got, len(want))
	}

	// A pong with its round trip, payload as text.
	p := &dissect.Message{Dir: dissect.FromClient, Opcode: dissect.OpPong, Frames: 1, Payload: []byte("hi"), Length: 2, HasRTT: true, RTT: 1500 * time.Microsecond}
	got = nil
	if err := json.Unmarshal(appendMessage(nil, 1, p), &got); err != nil {
		t.Fatal(err)
	}
	if got["text"] != "hi" || got["rtt_ms"] != 1.5 || got["data"] != nil || got["code"] != nil {
		t.Errorf("pong: %v", got)
	}
	// Binary is always data, even when it is valid UTF-8.
	bin := &dissect.Message{Opcode: dissect.OpBinary, Payload: []byte("abc")}
	got = nil
	json.Unmarshal(appendMessage(nil, 1, bin), &got)
	if got["data"] != "YWJj" || got["text"] != nil {
		t.Errorf("binary: %v", got)
	}
	// Text that is not valid UTF-8 (cut by the payload cap inside a rune)
	// goes as data, so no byte is changed.
	cut := &dissect.Message{Opcode: dissect.OpText, Payload: []byte("\xe4\xb8"), Truncated: true}
	got = nil
	json.Unmarshal(appendMessage(nil, 1, cut), &got)
	if got["data"] != "5Lg=" || got["truncated"] != true {
		t.Errorf("cut text: %v", got)
	}
}

func TestEndpointOf(t *testing.T) {
	for in, want := range map[string]Endpoint{
		"127.0.0.1:80":    {"127.0.0.1", 80},
		"[::1]:9696":      {"::1", 9696},
		"[fe80::1]:65535": {"fe80::1", 65535},
		"garbage":         {"garbage", 0},
	} {
		if got := endpointOf(in); got != want {
			t.Errorf("%q: %+v; want %+v", in, got, want)
		}
	}
}

func TestAppendEpochMicro(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.Unix(1475155931, 28697000), "1475155931.028697"},
		{time.Unix(1475155946, 892310999), "1475155946.892310"},
		{time.Unix(0, 0), "0.000000"},
	} {
		if got := string(appendEpochMicro(nil, tc.t)); got != tc.want {
			t.Errorf("%v: %s; want %s", tc.t, got, tc.want)
		}
	}
}

// TestJSONLMessageAllocations keeps the message path of the JSON Lines
// writer free of allocations once its buffers have grown.
func TestJSONLMessageAllocations(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector; .ci/run runs this test in a normal build")
	}
	l := NewJSONL(discard{}, JSONLOptions{})
	c := &dissect.ConvRef{ID: 1, Client: "10.0.0.1:5000", Server: "10.0.0.2:80"}
	m := &dissect.Message{Opcode: dissect.OpText, Frames: 1, Payload: []byte("héllo \"world\"\n"), Length: 15}
	l.Message(c, m)
	if n := testing.AllocsPerRun(100, func() { l.Message(c, m) }); n != 0 {
		t.Errorf("%v allocations per text message; want 0", n)
	}
	m.Opcode = dissect.OpBinary
	if n := testing.AllocsPerRun(100, func() { l.Message(c, m) }); n != 0 {
		t.Errorf("%v allocations per binary message; want 0", n)
	}
}

type discard struct{}

func (discard) Write(b []byte) (int, error) { return len(b), nil }

func BenchmarkJSONLMessage(b *testing.B) {
	l := NewJSONL(discard{}, JSONLOptions{})
	c := &dissect.ConvRef{ID: 1, Client: "10.0.0.1:5000", Server: "10.0.0.2:80"}
	payload := bytes.Repeat([]byte("{\"type\":\"request\",\"data\":\"1265307447409499018\"}\n"), 20)
	m := &dissect.Message{Opcode: dissect.OpText, Frames: 1, Payload: payload, Length: uint64(len(payload))}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		l.Message(c, m)
	}
}

// appendJSONStringRef is the byte-at-a-time encoder, the reference of the
// eight-bytes-at-a-time one.
func appendJSONStringRef(dst []byte, s []byte) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 0x20 && c != '"' && c != '\\':
				dst = append(dst, c)
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xF])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, '\\', 'u', '2', '0', '2', hexd[r&0xF])
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

func TestAppendJSONStringMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	const special = "\"\\\n\x00\x1f\x20\x21\x7e\x7f\x80\xc3\xa9\xe2\x80\xa8\xff\xf0\x9f"
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.Intn(70))
		for j := range b {
			if rng.Intn(6) == 0 {
				b[j] = special[rng.Intn(len(special))]
			} else {
				b[j] = byte(0x20 + rng.Intn(0x5f))
			}
		}
		if got, want := appendJSONString(nil, b), appendJSONStringRef(nil, b); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", b, got, want)
		}
	}
	// Long printable ASCII with quotes and backslashes at every density
	// (sixteen bytes at a time where the processor allows), as []byte
	// and as string.
	for i := 0; i < 5000; i++ {
		b := make([]byte, rng.Intn(300))
		density := 1 + rng.Intn(20)
		for j := range b {
			switch r := rng.Intn(density * 2); {
			case r == 0:
				b[j] = '"'
			case r == 1:
				b[j] = '\\'
			case r == 2 && rng.Intn(10) == 0:
				b[j] = special[rng.Intn(len(special))]
			default:
				b[j] = byte(0x20 + rng.Intn(0x5f))
			}
		}
		want := appendJSONStringRef(nil, b)
		if got := appendJSONString(nil, b); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, want %s", b, got, want)
		}
		if got := appendJSONString([]byte("pre"), string(b)); !bytes.Equal(got[3:], want) {
			t.Fatalf("%q as a string: got %s, want %s", b, got[3:], want)
		}
	}
	// Every byte at every place of three sixteen-byte steps.
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 48; pos++ {
			b := []byte("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL")
			b[pos] = byte(c)
			if got, want := appendJSONString(nil, b), appendJSONStringRef(nil, b); !bytes.Equal(got, want) {
				t.Fatalf("%q: got %s, want %s", b, got, want)
			}
		}
	}
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			b := []byte("abcdefghijklmnop")
			b[pos] = byte(c)
			if got, want := appendJSONString(nil, b), appendJSONStringRef(nil, b); !bytes.Equal(got, want) {
				t.Fatalf("%q: got %s, want %s", b, got, want)
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	f.Add([]byte("plain ascii text, long enough"))
	f.Add([]byte("a\"b\\c\nd\x01<\xe2\x80\xa8\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := appendJSONStringRef(nil, b)
		if got := appendJSONString(nil, b); !bytes.Equal(got, want) {
			t.Fatalf("got %s, want %s", got, want)
		}
		if got := appendJSONString([]byte("x"), string(b)); !bytes.Equal(got[1:], want) {
			t.Fatalf("string: got %s, want %s", got[1:], want)
		}
	})
}

// jsonBenchInputs are the inputs of BenchmarkAppendJSONString: a JSON
// message of about 600 bytes (its quotes escaped), a 30-byte string, and
// longer text with neither quotes nor backslashes.
func jsonBenchInputs() []struct {
	name string
	s    []byte
} {
	var msg []byte
	msg = append(msg, `{"type":"update","seq":235151142,"data":[`...)
	for i := 0; len(msg) < 560; i++ {
		if i > 0 {
			msg = append(msg, ',')
		}
		msg = append(msg, `{"sym":"DOGE-USD","px":"17234.32","qty":"0.0125"}`...)
	}
	msg = append(msg, "]}"...)
	text := bytes.Repeat([]byte("2024-05-01T12:00:00Z INFO connection 42 accepted from 10.0.0.7; "), 64)
	return []struct {
		name string
		s    []byte
	}{
		{"json600", msg},
		{"short30", []byte("heartbeat 1714564800 ok seq=42")},
		{"text4KiB", text},
	}
}

func BenchmarkAppendJSONString(b *testing.B) {
	dst := make([]byte, 0, 64<<10)
	for _, c := range jsonBenchInputs() {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			for i := 0; i < b.N; i++ {
				dst = appendJSONString(dst[:0], c.s)
			}
		})
	}
}

func TestAppendTimeUTC(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	times := []time.Time{
		time.Unix(0, 0), time.Unix(253402300799, 999999999), time.Unix(253402300800, 0), time.Unix(-1, 5),
		time.Date(2000, 2, 29, 23, 59, 59, 1, time.UTC), time.Date(2100, 3, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 0; i < 100000; i++ {
		times = append(times, time.Unix(rng.Int63n(253402300800+1000)-500, rng.Int63n(1e9)))
	}
	for _, tm := range times {
		got := string(appendTimeUTC(nil, tm))
		if want := tm.UTC().Format(TimeLayout); got != want {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
	}
}

// TestAsText: the dissector's UTF-8 verdict stands in for a check of the
// payload only when it covers exactly the bytes shown: the whole payload,
// inflated if compressed.
func TestAsText(t *testing.T) {
	valid := []byte("héllo")
	cut := valid[:2] // ends inside the é
	bad := []byte("a\xffb")
	for _, c := range []struct {
		name string
		m    dissect.Message
		want bool
	}{
		{"whole, checked", dissect.Message{Opcode: dissect.OpText, Payload: valid, Length: uint64(len(valid)), ValidUTF8: true}, true},
		{"cut inside a rune", dissect.Message{Opcode: dissect.OpText, Payload: cut, Length: uint64(len(valid)), ValidUTF8: true, Truncated: true}, false},
		{"cut at a rune", dissect.Message{Opcode: dissect.OpText, Payload: valid[:1], Length: uint64(len(valid)), Truncated: true}, true},
		{"invalid", dissect.Message{Opcode: dissect.OpText, Payload: bad, Length: uint64(len(bad))}, false},
		{"not inflated, said valid", dissect.Message{Opcode: dissect.OpText, Payload: bad, Length: uint64(len(bad)), ValidUTF8: true, Compressed: true}, false},
		{"inflate failed, said valid", dissect.Message{Opcode: dissect.OpText, Payload: bad, Length: uint64(len(bad)), ValidUTF8: true, Compressed: true, Inflated: true, InflateErr: "x"}, false},
		{"inflated", dissect.Message{Opcode: dissect.OpText, Payload: valid, Length: uint64(len(valid)), ValidUTF8: true, Compressed: true, Inflated: true}, true},
		{"ping", dissect.Message{Opcode: dissect.OpPing, Payload: valid, Length: uint64(len(valid)), ValidUTF8: true}, true},
		{"binary", dissect.Message{Opcode: dissect.OpBinary, Payload: valid, Length: uint64(len(valid)), ValidUTF8: true}, false},
	} {
		if got := asText(&c.m); got != c.want {
			t.Errorf("%s: asText %v; want %v", c.name, got, c.want)
		}
	}
}
