package dissect

import (
	"fmt"
	"strconv"
)

// This file parses the header values of the opening handshake that are
// lists: Sec-WebSocket-Extensions (RFC 6455 §9.1), and the plain comma
// lists of Sec-WebSocket-Protocol, Upgrade and Connection (RFC 7230 §7).

// isTchar reports whether c may appear in an RFC 7230 §3.2.6 token.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func scanToken(s string, i int) (string, int) {
	j := i
	for j < len(s) && isTchar(s[j]) {
		j++
	}
	return s[i:j], j
}

// extError says where and why an extension list is malformed.
type extError struct {
	Pos int // byte offset in the header value
	Msg string
}

func (e *extError) Error() string { return fmt.Sprintf("at byte %d: %s", e.Pos, e.Msg) }

// describeByte names the byte at s[i] (or the end of s) for an error text,
// with unprintable bytes escaped.
func describeByte(s string, i int) string {
	if i >= len(s) {
		return "end of value"
	}
	return strconv.QuoteRune(rune(s[i]))
}

// parseExtensions parses one Sec-WebSocket-Extensions header value and
// appends its extensions to exts. The grammar is RFC 6455 §9.1 with the list
// rules of RFC 7230 §7:
//
//	extension-list = 1#extension
//	extension      = extension-token *( OWS ";" OWS extension-param )
//	extension-param = token [ BWS "=" BWS ( token / quoted-string ) ]
//
// Empty list elements (", ,") are ignored as RFC 7230 §7 asks, but a value
// without any extension is malformed. A quoted parameter value must be a
// token once unescaped (RFC 6455 §9.1). On error exts is returned with the
// extensions parsed before the error.
func parseExtensions(exts []Extension, v string) ([]Extension, error) {
	n := 0
	i := 0
	for {
		i = skipOWS(v, i)
		if i == len(v) {
			break
		}
		if v[i] == ',' {
			i++
			continue
		}
		name, j := scanToken(v, i)
		if name == "" {
			return exts, &extError{i, "expected an extension name, found " + describeByte(v, i)}
		}
		i = j
		ext := Extension{Name: name}
		for {
			i = skipOWS(v, i)
			if i == len(v) || v[i] == ',' {
				break
			}
			if v[i] != ';' {
				return exts, &extError{i, "expected ';' or ',' after " + strconv.Quote(ext.Name) + ", found " + describeByte(v, i)}
			}
			i = skipOWS(v, i+1)
			pname, j := scanToken(v, i)
			if pname == "" {
				return exts, &extError{i, "expected a parameter name, found " + describeByte(v, i)}
			}
			i = j
			p := ExtensionParam{Name: pname}
			k := skipOWS(v, i)
			if k < len(v) && v[k] == '=' {
				i = skipOWS(v, k+1)
				var val string
				var err error
				if i < len(v) && v[i] == '"' {
					val, i, err = scanQuoted(v, i)
					if err != nil {
						return exts, err
					}
					if !isToken(val) {
						return exts, &extError{i, "quoted value of " + strconv.Quote(pname) + " is not a token"}
					}
				} else {
					val, i = scanToken(v, i)
					if val == "" {
						return exts, &extError{i, "expected a value for " + strconv.Quote(pname) + ", found " + describeByte(v, i)}
					}
				}
				p.Value, p.HasValue = val, true
			}
			ext.Params = append(ext.Params, p)
		}
		exts = append(exts, ext)
		n++
	}
	if n == 0 {
		return exts, &extError{0, "empty extension list"}
	}
	return exts, nil
}

// scanQuoted reads an RFC 7230 §3.2.6 quoted-string starting at the opening
// quote s[i] and returns its unescaped content and the index after the
// closing quote.
func scanQuoted(s string, i int) (string, int, error) {
	start := i
	i++
	var out []byte
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			return string(out), i + 1, nil
		case c == '\\':
			if i+1 >= len(s) {
				return "", i, &extError{i, "quoted-pair cut short"}
			}
			e := s[i+1]
			if e != '\t' && (e < 0x20 || e == 0x7f) {
				return "", i, &extError{i + 1, "invalid escaped byte " + describeByte(s, i+1)}
			}
			out = append(out, e)
			i += 2
		case c == '\t' || (c >= 0x20 && c != 0x7f):
			out = append(out, c)
			i++
		default:
			return "", i, &extError{i, "invalid byte " + describeByte(s, i) + " in quoted-string"}
		}
	}
	return "", start, &extError{start, "unterminated quoted-string"}
}

// splitList appends the non-empty elements of the comma-separated list v,
// trimmed of white space, to out (RFC 7230 §7).
func splitList(out []string, v string) []string {
	for len(v) > 0 {
		var e string
		if k := indexByteString(v, ','); k >= 0 {
			e, v = v[:k], v[k+1:]
		} else {
			e, v = v, ""
		}
		e = trimOWS(e)
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// listHas reports whether the comma list v holds the element tok
// (case-insensitive), as in "Connection: keep-alive, Upgrade".
func listHas(v, tok string) bool {
	for len(v) > 0 {
		var e string
		if k := indexByteString(v, ','); k >= 0 {
			e, v = v[:k], v[k+1:]
		} else {
			e, v = v, ""
		}
		if equalFold(trimOWS(e), tok) {
			return true
		}
	}
	return false
}

func indexByteString(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

// Extension names whose negotiation sets Handshake.Deflate.
const (
	extPerMessageDeflate = "permessage-deflate"
	extWebkitDeflate     = "x-webkit-deflate-frame"
	extDeflateFrame      = "deflate-frame"
)

// negotiateDeflate derives the compression agreed in a response's accepted
// extensions (RFC 7692 §7.1 for permessage-deflate; the per-frame
// "x-webkit-deflate-frame"/"deflate-frame" drafts take no_context_takeover
// and max_window_bits). It returns nil when no compression extension was
// accepted, and a non-empty problem text when the parameters the server
// chose are not valid (the result is then still the best reading of them).
func negotiateDeflate(accepted []Extension) (*DeflateParams, string) {
	for _, e := range accepted {
		name := e.Name
		switch {
		case equalFold(name, extPerMessageDeflate):
			return pmdParams(e)
		case equalFold(name, extWebkitDeflate), equalFold(name, extDeflateFrame):
			return frameDeflateParams(e)
		}
	}
	return nil, ""
}

func pmdParams(e Extension) (*DeflateParams, string) {
	d := &DeflateParams{Extension: extPerMessageDeflate, MaxWindowBits: [2]int{15, 15}}
	problem := ""
	seen := map[string]bool{}
	for _, p := range e.Params {
		key := p.Name
		if seen[key] && problem == "" {
			problem = "parameter " + strconv.Quote(key) + " repeated"
		}
		seen[key] = true
		switch key {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.HasValue && problem == "" {
				problem = "parameter " + strconv.Quote(key) + " takes no value"
			}
			if key == "server_no_context_takeover" {
				d.NoContextTakeover[FromServer] = true
			} else {
				d.NoContextTakeover[FromClient] = true
			}
		case "server_max_window_bits", "client_max_window_bits":
			bits, ok := windowBits(p)
			if !ok && problem == "" {
				problem = "parameter " + strconv.Quote(key) + " needs a value from 8 to 15"
			}
			if ok {
				if key == "server_max_window_bits" {
					d.MaxWindowBits[FromServer] = bits
				} else {
					d.MaxWindowBits[FromClient] = bits
				}
			}
		default:
			if problem == "" {
				problem = "unknown parameter " + strconv.Quote(key)
			}
		}
	}
	return d, problem
}

func frameDeflateParams(e Extension) (*DeflateParams, string) {
	d := &DeflateParams{Extension: e.Name, PerFrame: true, MaxWindowBits: [2]int{15, 15}}
	problem := ""
	for _, p := range e.Params {
		switch p.Name {
		case "no_context_takeover":
			// The server asks the client not to keep its context.
			d.NoContextTakeover[FromClient] = true
		case "max_window_bits":
			if bits, ok := windowBits(p); ok {
				d.MaxWindowBits[FromClient] = bits
			} else if problem == "" {
				problem = "parameter \"max_window_bits\" needs a value from 8 to 15"
			}
		default:
			if problem == "" {
				problem = "unknown parameter " + strconv.Quote(p.Name)
			}
		}
	}
	return d, problem
}

// windowBits reads an RFC 7692 §7.1.2 window size: 1*DIGIT from 8 to 15,
// without leading zeros.
func windowBits(p ExtensionParam) (int, bool) {
	v := p.Value
	if !p.HasValue || len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n := 0
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int(v[i]-'0')
	}
	if n < 8 || n > 15 {
		return 0, false
	}
	return n, true
}
