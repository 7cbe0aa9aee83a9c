package dissect

import (
	"math/rand"
	"testing"
	"unicode/utf8"
)

func TestUTF8ValidatorCases(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"empty", "", true},
		{"ascii", "Hello", true},
		{"two-byte é", "\xC3\xA9", true},
		{"three-byte €", "\xE2\x82\xAC", true},
		{"four-byte 𝄞", "\xF0\x9D\x84\x9E", true},
		{"U+10FFFF", "\xF4\x8F\xBF\xBF", true},
		{"U+D7FF before surrogates", "\xED\x9F\xBF", true},
		{"U+E000 after surrogates", "\xEE\x80\x80", true},
		{"overlong NUL C0 80", "\xC0\x80", false},
		{"overlong C1 BF", "\xC1\xBF", false},
		{"overlong E0 80 80", "\xE0\x80\x80", false},
		{"overlong E0 9F BF", "\xE0\x9F\xBF", false},
		{"overlong F0 8F BF BF", "\xF0\x8F\xBF\xBF", false},
		{"surrogate U+D800", "\xED\xA0\x80", false},
		{"surrogate U+DFFF", "\xED\xBF\xBF", false},
		{"above U+10FFFF", "\xF4\x90\x80\x80", false},
		{"F5 lead", "\xF5\x80\x80\x80", false},
		{"FF", "\xFF", false},
		{"lone continuation", "a\x80b", false},
		{"truncated two-byte at end", "ab\xC3", false},
		{"truncated four-byte at end", "\xF0\x9D\x84", false},
		{"truncated then ascii", "\xE2\x82a", false},
		{"RFC 6455 §8.1 κόσμε", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", true},
	}
	for _, tt := range tests {
		if utf8.ValidString(tt.in) != tt.want {
			t.Fatalf("%s: test table disagrees with utf8.ValidString", tt.name)
		}
		b := []byte(tt.in)
		// Whole, and split into two and three pieces at every point.
		for i := 0; i <= len(b); i++ {
			for j := i; j <= len(b); j++ {
				var v utf8Validator
				v.write(b[:i])
				v.write(b[i:j])
				v.write(b[j:])
				if got := v.valid(); got != tt.want {
					t.Fatalf("%s split at %d,%d: valid = %v; want %v", tt.name, i, j, got, tt.want)
				}
			}
		}
	}
}

// randomUTF8Text builds inputs rich in sequence boundaries: valid runes of
// every length, with occasional raw bytes that may break them.
func randomUTF8Text(rng *rand.Rand) []byte {
	var b []byte
	n := rng.Intn(40)
	for i := 0; i < n; i++ {
		switch rng.Intn(10) {
		case 0:
			b = append(b, byte(rng.Intn(256)))
		case 1:
			b = append(b, 0xED, byte(0x80+rng.Intn(64)), byte(0x80+rng.Intn(64)))
		case 2:
			b = append(b, []byte("plain ascii text ")...)
		default:
			var r rune
			switch rng.Intn(4) {
			case 0:
				r = rune(rng.Intn(0x80))
			case 1:
				r = rune(0x80 + rng.Intn(0x800-0x80))
			case 2:
				r = rune(0x800 + rng.Intn(0x10000-0x800))
			default:
				r = rune(0x10000 + rng.Intn(0x110000-0x10000))
			}
			b = utf8.AppendRune(b, r)
		}
	}
	if rng.Intn(4) == 0 && len(b) > 0 {
		b = b[:rng.Intn(len(b))] // may cut a sequence
	}
	return b
}

func TestUTF8ValidatorRandomSplits(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var valid, invalid int
	for iter := 0; iter < 20000; iter++ {
		b := randomUTF8Text(rng)
		want := utf8.Valid(b)
		if want {
			valid++
		} else {
			invalid++
		}
		var v utf8Validator
		for rest := b; len(rest) > 0; {
			k := 1 + rng.Intn(len(rest))
			v.write(rest[:k])
			rest = rest[k:]
		}
		if v.valid() != want {
			t.Fatalf("% x: valid = %v; utf8.Valid = %v", b, v.valid(), want)
		}
	}
	// The generator must exercise both outcomes.
	if valid < 1000 || invalid < 1000 {
		t.Fatalf("valid %d, invalid %d inputs: generator is lopsided", valid, invalid)
	}
}

func TestUTF8ValidatorReset(t *testing.T) {
	var v utf8Validator
	v.write([]byte{0xFF})
	if v.valid() {
		t.Fatal("0xFF accepted")
	}
	v.reset()
	v.write([]byte("ok"))
	if !v.valid() {
		t.Fatal("after reset, \"ok\" rejected")
	}
}
