package dissect

import "unicode/utf8"

// utf8Validator checks that a byte stream is well-formed UTF-8 (RFC 3629,
// as RFC 6455 §8.1 requires of text messages) when the stream arrives in
// pieces split anywhere, also inside a multi-byte sequence.
//
// It rejects what utf8.Valid rejects: bytes that cannot start a sequence,
// overlong forms, UTF-16 surrogates (U+D800 to U+DFFF) and code points above
// U+10FFFF. The zero value is ready for a new stream.
type utf8Validator struct {
	need   uint8 // continuation bytes still expected by the open sequence
	lo, hi uint8 // the range the next continuation byte must fall in
	bad    bool  // the stream is already invalid
}

func (v *utf8Validator) reset() { *v = utf8Validator{} }

// valid reports whether everything written so far is valid UTF-8 and does
// not end inside a sequence.
func (v *utf8Validator) valid() bool { return !v.bad && v.need == 0 }

// write validates the next piece of the stream.
func (v *utf8Validator) write(p []byte) {
	if v.bad {
		return
	}
	// Finish a sequence left open by the previous piece.
	for v.need > 0 && len(p) > 0 {
		if !v.step(p[0]) {
			return
		}
		p = p[1:]
	}
	if len(p) == 0 {
		return
	}
	// Split off an incomplete sequence at the end; the complete middle
	// goes to utf8.Valid, the tail through the state machine.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		c := p[i]
		if c < 0x80 {
			break
		}
		if c >= 0xC0 {
			if leadLen(c) > len(p)-i {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		v.bad = true
		return
	}
	for _, c := range p[cut:] {
		if !v.step(c) {
			return
		}
	}
}

// leadLen returns the length of the sequence a lead byte starts, or 0 for a
// byte that cannot start one.
func leadLen(c byte) int {
	switch {
	case c < 0x80:
		return 1
	case c >= 0xC2 && c <= 0xDF:
		return 2
	case c >= 0xE0 && c <= 0xEF:
		return 3
	case c >= 0xF0 && c <= 0xF4:
		return 4
	}
	return 0
}

// step advances the state machine by one byte and reports whether the
// stream is still valid.
func (v *utf8Validator) step(c byte) bool {
	if v.need > 0 {
		if c < v.lo || c > v.hi {
			v.bad = true
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xBF
		return true
	}
	v.lo, v.hi = 0x80, 0xBF
	switch {
	case c < 0x80:
		return true
	case c >= 0xC2 && c <= 0xDF:
		v.need = 1
	case c == 0xE0: // no overlong three-byte forms
		v.need, v.lo = 2, 0xA0
	case c == 0xED: // no surrogates
		v.need, v.hi = 2, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		v.need = 2
	case c == 0xF0: // no overlong four-byte forms
		v.need, v.lo = 3, 0x90
	case c == 0xF4: // nothing above U+10FFFF
		v.need, v.hi = 3, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		v.need = 3
	default:
		v.bad = true
		return false
	}
	return true
}
