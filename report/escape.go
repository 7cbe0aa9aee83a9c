package report

import (
	"strconv"
	"unicode"
	"unicode/utf8"
)

// AppendSafe appends b to dst in a form that is safe to print on a terminal:
// printable characters stay as they are; every control character (C0, DEL,
// C1), escape sequence introducer, bidirectional override and invalid UTF-8
// byte is written as a visible escape (\n, \t, \r, \e, \xNN, \u{NNNN}), and
// the backslash itself is doubled. At most max bytes of b are read (max <= 0:
// all); when b is longer, "…" marks the cut. Nothing that comes from the wire
// reaches a terminal raw through this function.
func AppendSafe(dst, b []byte, max int) []byte {
	cut := false
	if max > 0 && len(b) > max {
		b = b[:max]
		cut = true
	}
	for i := 0; i < len(b); {
		c := b[i]
		if c >= 0x20 && c < 0x7f {
			if c == '\\' {
				dst = append(dst, '\\', '\\')
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		if c < 0x80 {
			switch c {
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case 0x1b:
				dst = append(dst, '\\', 'e')
			default:
				dst = appendHexByte(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			if cut && len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:]) {
				// A rune cut by the preview limit, not a bad byte.
				break
			}
			dst = appendHexByte(dst, c)
			i++
			continue
		}
		if safeRune(r) {
			dst = append(dst, b[i:i+n]...)
		} else {
			dst = append(dst, '\\', 'u', '{')
			dst = strconv.AppendUint(dst, uint64(r), 16)
			dst = append(dst, '}')
		}
		i += n
	}
	if cut {
		dst = append(dst, "…"...)
	}
	return dst
}

// Safe returns s made safe for a terminal, as AppendSafe does.
func Safe(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '\\' {
			return string(AppendSafe(nil, []byte(s), 0))
		}
	}
	return s
}

func appendHexByte(dst []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'x', hex[c>>4], hex[c&0xf])
}

// safeRune reports whether a non-ASCII rune may be printed as itself: a
// graphic character that is not a C1 control, a bidirectional control or
// another format character that can reorder or hide text.
func safeRune(r rune) bool {
	if r >= 0x80 && r < 0xa0 {
		return false
	}
	if unicode.Is(unicode.Cf, r) { // bidi overrides and isolates, zero-width characters
		return false
	}
	if r == 0x2028 || r == 0x2029 { // line and paragraph separators
		return false
	}
	return unicode.IsGraphic(r)
}
