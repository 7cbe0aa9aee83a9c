package tui

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/wsdump/wsdump/report"
)

// maxPrettyLines caps the lines a payload view renders.
const maxPrettyLines = 5000

// safeLine makes one line of wire text safe for the terminal.
func safeLine(b []byte) string { return string(report.AppendSafe(nil, b, 0)) }

// wrapPlain cuts a line of plain (escape-free) text into pieces of at most w
// cells.
func wrapPlain(s string, w int) []string {
	if w <= 0 || ansi.StringWidth(s) <= w {
		return []string{s}
	}
	return strings.Split(ansi.Hardwrap(s, w, true), "\n")
}

// textLines renders a text payload: one screen line per line of the
// payload (wrapped at w), every line made safe.
func textLines(b []byte, w int) []string {
	var out []string
	for len(b) > 0 && len(out) < maxPrettyLines {
		i := bytes.IndexByte(b, '\n')
		var line []byte
		if i < 0 {
			line, b = b, nil
		} else {
			line, b = b[:i], b[i+1:]
		}
		out = append(out, wrapPlain(safeLine(line), w)...)
	}
	return out
}

// hexLines renders b as a hex dump, 16 bytes a line (8 when w is narrow).
func hexLines(b []byte, w int) []string {
	per := 16
	if w < 76 {
		per = 8
	}
	const hexd = "0123456789abcdef"
	var out []string
	line := make([]byte, 0, 80)
	for off := 0; off < len(b) && len(out) < maxPrettyLines; off += per {
		line = line[:0]
		for s := 28; s >= 0; s -= 4 {
			line = append(line, hexd[(off>>s)&0xf])
		}
		line = append(line, ' ', ' ')
		end := min(off+per, len(b))
		for i := off; i < off+per; i++ {
			if i == off+8 {
				line = append(line, ' ')
			}
			if i < end {
				line = append(line, hexd[b[i]>>4], hexd[b[i]&0xf], ' ')
			} else {
				line = append(line, ' ', ' ', ' ')
			}
		}
		line = append(line, ' ', '|')
		for _, c := range b[off:end] {
			if c < 0x20 || c >= 0x7f {
				c = '.'
			}
			line = append(line, c)
		}
		line = append(line, '|')
		out = append(out, string(line))
	}
	return out
}

// isJSON reports whether b looks like a JSON document worth pretty-printing.
func isJSON(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[') && json.Valid(t)
}

// safeKeepBackslash makes s safe for the terminal but leaves backslashes
// single, for JSON text whose escapes are already visible.
func safeKeepBackslash(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r >= 0x7f }) {
		return s
	}
	parts := strings.Split(s, `\`)
	for i, p := range parts {
		parts[i] = report.Safe(p)
	}
	return strings.Join(parts, `\`)
}

// jsonLines pretty-prints a valid JSON document and colours its tokens.
// Lines longer than w are cut with "…".
func jsonLines(b []byte, w int, st *styles) []string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(b), "", "  "); err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(buf.String(), "\n") {
		if len(out) >= maxPrettyLines {
			break
		}
		line = safeKeepBackslash(line)
		if ansi.StringWidth(line) > w && w > 1 {
			line = ansi.Truncate(line, w, "…")
		}
		out = append(out, colourJSONLine(line, st))
	}
	return out
}

// colourJSONLine colours the tokens of one line of indented JSON (already
// made safe). A string followed by ':' is a key.
func colourJSONLine(line string, st *styles) string {
	if !st.on {
		return line
	}
	var sb strings.Builder
	i := 0
	for i < len(line) {
		c := line[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(line) && line[j] != '"' {
				if line[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(line))
			tok := line[i:j]
			k := j
			for k < len(line) && line[k] == ' ' {
				k++
			}
			if k < len(line) && line[k] == ':' {
				sb.WriteString(st.jsonKey.r(tok))
			} else {
				sb.WriteString(st.jsonString.r(tok))
			}
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(line) && strings.IndexByte("+-0123456789.eE", line[j]) >= 0 {
				j++
			}
			sb.WriteString(st.jsonNumber.r(line[i:j]))
			i = j
		case c == 't' || c == 'f' || c == 'n':
			j := i
			for j < len(line) && line[j] >= 'a' && line[j] <= 'z' {
				j++
			}
			sb.WriteString(st.jsonLit.r(line[i:j]))
			i = j
		case strings.IndexByte("{}[],:", c) >= 0:
			sb.WriteString(st.jsonPunct.r(line[i : i+1]))
			i++
		default:
			sb.WriteByte(c)
			i++
		}
	}
	return sb.String()
}
