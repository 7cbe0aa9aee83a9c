package report

import (
	"bytes"
	"math/rand"
	"testing"
	"unicode/utf8"
)

func TestAppendSafe(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 0, "hello"},
		{"a\\b", 0, `a\\b`},
		{"line\r\n\tend", 0, `line\r\n\tend`},
		{"\x1b[2J", 0, `\e[2J`},
		{"\x1b]52;c;aGk=\x07", 0, `\e]52;c;aGk=\x07`},
		{"back\x08\x08", 0, `back\x08\x08`},
		{"\x7f\x00", 0, `\x7f\x00`},
		{"C1 \u009b31m", 0, `C1 \u{9b}31m`},
		{"bidi \u202eevil", 0, `bidi \u{202e}evil`},
		{"zero\u200bwidth", 0, `zero\u{200b}width`},
		{"héllo → 世界", 0, "héllo → 世界"},
		{"bad \xff\xfe utf8", 0, `bad \xff\xfe utf8`},
		{"abcdef", 3, "abc…"},
		{"ab世", 3, "ab…"},       // a rune cut by the limit is not shown as bad bytes
		{"ab\xff", 3, `ab\xff`}, // a whole bad byte is
		{"", 0, ""},
	}
	for _, tt := range tests {
		got := string(AppendSafe(nil, []byte(tt.in), tt.max))
		if got != tt.want {
			t.Errorf("AppendSafe(%q, %d) = %q; want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// TestAppendSafeNeverEmitsControls checks on random bytes that the output
// holds no C0 control, DEL, C1 control or invalid UTF-8.
func TestAppendSafeNeverEmitsControls(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	buf := make([]byte, 64)
	for i := 0; i < 20000; i++ {
		n := rng.Intn(len(buf))
		rng.Read(buf[:n])
		out := AppendSafe(nil, buf[:n], rng.Intn(70))
		checkTerminalSafe(t, buf[:n], out)
	}
}

func FuzzAppendSafe(f *testing.F) {
	f.Add([]byte("\x1b[2J\x1b]52;c;x\x07\u009b\u202e"), 0)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		checkTerminalSafe(t, b, AppendSafe(nil, b, max%100))
	})
}

func checkTerminalSafe(t *testing.T, in, out []byte) {
	t.Helper()
	if !utf8.Valid(out) {
		t.Fatalf("AppendSafe(%q) = %q: invalid UTF-8", in, out)
	}
	for _, r := range string(out) {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x202e {
			t.Fatalf("AppendSafe(%q) = %q: holds control %U", in, out, r)
		}
	}
	if bytes.IndexByte(out, 0x1b) >= 0 {
		t.Fatalf("AppendSafe(%q) = %q: holds ESC", in, out)
	}
}

func TestAppendSafeText(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`subprotocol "a\x1bb" not offered`, `subprotocol "a\x1bb" not offered`},
		{"raw \x1b[2J and \\ kept", `raw \e[2J and \ kept`},
		{"bidi \u202e", `bidi \u{202e}`},
	} {
		if got := string(appendSafeText(nil, tt.in)); got != tt.want {
			t.Errorf("appendSafeText(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
