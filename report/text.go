// Package report turns the dissector's events into what people and programs
// read: the tcpdump-like text stream, and the JSON outputs.
package report

import (
	"bufio"
	"encoding/hex"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/wsdump/wsdump/dissect"
)

// TextOptions choose what the text stream shows.
type TextOptions struct {
	// Quiet prints conversation summaries only.
	Quiet bool
	// Verbose adds a line for every frame with its header fields.
	Verbose bool
	// Hex adds a hex dump of payloads.
	Hex bool
	// Color uses ANSI colours (only for a terminal, never with NO_COLOR).
	Color bool
	// Preview is how many payload bytes a line shows (default 80).
	Preview int
	// Location is the time zone of the timestamps (default time.Local).
	Location *time.Location
	// FlushEach flushes after every event: for terminals and pipes that are
	// read as the capture goes.
	FlushEach bool
	// AllConversations makes the summaries cover every TCP conversation,
	// not only those that spoke WebSocket or tried to.
	AllConversations bool
}

// Text writes one line per handshake, message, control frame, violation, gap
// and conversation end. Every byte that came from the wire is escaped first.
// It implements dissect.Sink.
type Text struct {
	w    *bufio.Writer
	o    TextOptions
	line []byte
	err  error
}

// NewText returns a Text writing to w.
func NewText(w io.Writer, o TextOptions) *Text {
	if o.Preview <= 0 {
		o.Preview = 80
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	return &Text{w: bufio.NewWriterSize(w, 64<<10), o: o}
}

// Flush writes what is buffered and returns the first write error met.
func (t *Text) Flush() error {
	if err := t.w.Flush(); err != nil && t.err == nil {
		t.err = err
	}
	return t.err
}

const (
	colReset  = "\x1b[0m"
	colClient = "\x1b[36m" // cyan: sent by the client
	colServer = "\x1b[33m" // yellow: sent by the server
	colViol   = "\x1b[1;31m"
	colHand   = "\x1b[32m"
	colDim    = "\x1b[2m"
)

func (t *Text) color(c string) {
	if t.o.Color {
		t.line = append(t.line, c...)
	}
}

func (t *Text) emit() {
	t.line = append(t.line, '\n')
	if _, err := t.w.Write(t.line); err != nil && t.err == nil {
		t.err = err
	}
	t.line = t.line[:0]
	if t.o.FlushEach {
		if err := t.w.Flush(); err != nil && t.err == nil {
			t.err = err
		}
	}
}

func (t *Text) stamp(ts time.Time) {
	t.line = ts.In(t.o.Location).AppendFormat(t.line, "15:04:05.000000")
	t.line = append(t.line, ' ')
}

// head writes "TIME #ID SRC > DST " for an event sent in direction d.
func (t *Text) head(c *dissect.ConvRef, ts time.Time, d dissect.Direction) {
	t.stamp(ts)
	t.line = append(t.line, '#')
	t.line = strconv.AppendUint(t.line, c.ID, 10)
	t.line = append(t.line, ' ')
	src, dst := c.Client, c.Server
	col := colClient
	if d == dissect.FromServer {
		src, dst = dst, src
		col = colServer
	}
	t.color(col)
	t.line = append(t.line, src...)
	t.line = append(t.line, " > "...)
	t.line = append(t.line, dst...)
	t.color(colReset)
	t.line = append(t.line, ' ')
}

func (t *Text) quoted(b []byte, max int) {
	t.line = append(t.line, '"')
	t.line = appendQuotedSafe(t.line, b, max)
	t.line = append(t.line, '"')
}

// appendQuotedSafe is AppendSafe that also escapes the double quote.
func appendQuotedSafe(dst, b []byte, max int) []byte {
	start := len(dst)
	dst = AppendSafe(dst, b, max)
	// Escape quotes after the fact: rare, and keeps AppendSafe simple.
	for i := start; i < len(dst); i++ {
		if dst[i] == '"' {
			dst = append(dst, 0)
			copy(dst[i+1:], dst[i:])
			dst[i] = '\\'
			i++
		}
	}
	return dst
}

func (t *Text) str(s string) {
	t.line = AppendSafe(t.line, []byte(s), 0)
}

// Handshake implements dissect.Sink.
func (t *Text) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	if t.o.Quiet {
		return
	}
	t.head(c, h.Request.Time, dissect.FromClient)
	t.color(colHand)
	t.line = append(t.line, "handshake "...)
	t.line = append(t.line, h.Protocol...)
	t.color(colReset)
	t.line = append(t.line, ' ')
	t.str(h.Request.Method)
	t.line = append(t.line, ' ')
	t.str(h.Request.URI)
	if h.Host != "" {
		t.line = append(t.line, " host="...)
		t.str(h.Host)
	}
	if h.Response == nil {
		t.line = append(t.line, " -> no response"...)
	} else {
		t.line = append(t.line, " -> "...)
		t.line = strconv.AppendInt(t.line, int64(h.Response.StatusCode), 10)
		if h.Response.Reason != "" {
			t.line = append(t.line, ' ')
			t.str(h.Response.Reason)
		}
	}
	if h.Subprotocol != "" {
		t.line = append(t.line, " subprotocol="...)
		t.str(h.Subprotocol)
	}
	if len(h.AcceptedExtensions) > 0 {
		t.line = append(t.line, " extensions="...)
		t.line = appendExtensions(t.line, h.AcceptedExtensions)
	}
	if h.Response != nil && h.Protocol == dissect.ProtoHixie76 && len(h.ChallengeAnswer) > 0 {
		if h.ChallengeValid {
			t.line = append(t.line, " challenge=ok"...)
		} else {
			t.line = append(t.line, " challenge=BAD"...)
		}
	}
	if h.Response != nil && h.Protocol == dissect.ProtoRFC6455 && h.Key != "" {
		if h.AcceptValid {
			t.line = append(t.line, " accept=ok"...)
		} else {
			t.line = append(t.line, " accept=BAD"...)
		}
	}
	t.emit()
	if t.o.Verbose {
		for _, hd := range h.Request.Headers {
			t.header("  > ", hd)
		}
		if h.Response != nil {
			for _, hd := range h.Response.Headers {
				t.header("  < ", hd)
			}
		}
	}
}

func (t *Text) header(prefix string, h dissect.Header) {
	t.line = append(t.line, prefix...)
	t.str(h.Name)
	t.line = append(t.line, ": "...)
	t.str(h.Value)
	t.emit()
}

func appendExtensions(dst []byte, exts []dissect.Extension) []byte {
	for i, e := range exts {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = AppendSafe(dst, []byte(e.Name), 0)
		for _, p := range e.Params {
			dst = append(dst, "; "...)
			dst = AppendSafe(dst, []byte(p.Name), 0)
			if p.HasValue {
				dst = append(dst, '=')
				dst = AppendSafe(dst, []byte(p.Value), 0)
			}
		}
	}
	return dst
}

// Frame implements dissect.Sink: a line per frame with -v.
func (t *Text) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	if !t.o.Verbose || t.o.Quiet {
		return
	}
	t.head(c, f.Time, f.Dir)
	t.color(colDim)
	t.line = append(t.line, "  frame "...)
	t.line = strconv.AppendUint(t.line, f.Index, 10)
	t.line = append(t.line, ' ')
	if f.Fin {
		t.line = append(t.line, "FIN"...)
	} else {
		t.line = append(t.line, "fin=0"...)
	}
	if f.Rsv != 0 {
		t.line = append(t.line, " RSV"...)
		for bit, name := range [3]byte{'1', '2', '3'} {
			if f.Rsv&(4>>bit) != 0 {
				t.line = append(t.line, name)
			}
		}
	}
	t.line = append(t.line, ' ')
	t.line = append(t.line, f.Opcode.String()...)
	if f.Masked {
		t.line = append(t.line, " mask="...)
		t.line = hex.AppendEncode(t.line, f.Mask[:])
	}
	t.line = append(t.line, " len="...)
	t.line = strconv.AppendUint(t.line, f.Length, 10)
	t.line = append(t.line, " hdr="...)
	t.line = strconv.AppendInt(t.line, int64(f.HeaderLen), 10)
	t.color(colReset)
	t.emit()
}

// Message implements dissect.Sink.
func (t *Text) Message(c *dissect.ConvRef, m *dissect.Message) {
	if t.o.Quiet {
		return
	}
	t.head(c, m.End, m.Dir)
	t.line = append(t.line, m.Opcode.String()...)
	t.line = append(t.line, ' ')
	t.line = strconv.AppendUint(t.line, m.Length, 10)
	switch m.Opcode {
	case dissect.OpClose:
		if m.HasCloseCode {
			t.line = append(t.line, ' ')
			t.line = strconv.AppendUint(t.line, uint64(m.CloseCode), 10)
			if name := CloseCodeName(m.CloseCode); name != "" {
				t.line = append(t.line, ' ')
				t.line = append(t.line, name...)
			}
		}
		if m.CloseReason != "" {
			t.line = append(t.line, ' ')
			t.quoted([]byte(m.CloseReason), t.o.Preview)
		}
	default:
		if m.Frames > 1 {
			t.line = append(t.line, " frames="...)
			t.line = strconv.AppendInt(t.line, int64(m.Frames), 10)
		}
		if m.Incomplete {
			t.line = append(t.line, " incomplete"...)
		}
		if m.Compressed {
			// The payload as compressed on the wire; the length above
			// is what it inflated to.
			t.line = append(t.line, " deflate="...)
			t.line = strconv.AppendUint(t.line, m.WirePayload, 10)
			if !m.Inflated {
				t.line = append(t.line, " (not inflated"...)
				if m.InflateErr != "" {
					t.line = append(t.line, ": "...)
					t.str(m.InflateErr)
				}
				t.line = append(t.line, ')')
			} else if m.InflateErr != "" {
				t.line = append(t.line, " ("...)
				t.str(m.InflateErr)
				t.line = append(t.line, ')')
			}
		}
		if m.Opcode == dissect.OpPong {
			if m.HasRTT {
				t.line = append(t.line, " rtt="...)
				t.line = appendDuration(t.line, m.RTT)
			} else if m.Unsolicited {
				t.line = append(t.line, " unsolicited"...)
			}
		}
		if m.Length > 0 && (!m.Compressed || m.Inflated) {
			t.line = append(t.line, ' ')
			if m.Opcode == dissect.OpBinary || !m.ValidUTF8 {
				t.line = append(t.line, "0x"...)
				n := len(m.Payload)
				if max := t.o.Preview / 2; n > max {
					n = max
				}
				t.line = hex.AppendEncode(t.line, m.Payload[:n])
				if uint64(n) < m.Length {
					t.line = append(t.line, "…"...)
				}
			} else {
				t.quoted(m.Payload, t.o.Preview)
				if len(m.Payload) <= t.o.Preview && uint64(len(m.Payload)) < m.Length {
					t.line = append(t.line, "…"...)
				}
			}
		}
	}
	t.emit()
	if t.o.Hex && len(m.Payload) > 0 {
		t.hexdump(m.Payload)
	}
}

// hexdump writes b as lines of 16 bytes: offset, hex, printable ASCII.
func (t *Text) hexdump(b []byte) {
	const digits = "0123456789abcdef"
	for off := 0; off < len(b); off += 16 {
		row := b[off:min(off+16, len(b))]
		t.line = append(t.line, "\t0x"...)
		for s := 12; s >= 0; s -= 4 {
			t.line = append(t.line, digits[(off>>s)&0xf])
		}
		t.line = append(t.line, ": "...)
		for i := 0; i < 16; i++ {
			if i%2 == 0 {
				t.line = append(t.line, ' ')
			}
			if i < len(row) {
				t.line = append(t.line, digits[row[i]>>4], digits[row[i]&0xf])
			} else {
				t.line = append(t.line, ' ', ' ')
			}
		}
		t.line = append(t.line, "  "...)
		for _, c := range row {
			if c < 0x20 || c >= 0x7f {
				c = '.'
			}
			t.line = append(t.line, c)
		}
		t.emit()
	}
}

// Violation implements dissect.Sink.
func (t *Text) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	if t.o.Quiet {
		return
	}
	t.head(c, v.Time, v.Dir)
	t.color(colViol)
	t.line = append(t.line, "VIOLATION "...)
	t.line = append(t.line, v.Code...)
	t.color(colReset)
	if v.HasFrame {
		t.line = append(t.line, " frame "...)
		t.line = strconv.AppendUint(t.line, v.Frame, 10)
	}
	t.line = append(t.line, ": "...)
	// Details are wsdump's own text, with wire bytes already quoted in Go
	// syntax: escape control characters, but do not double backslashes.
	t.line = appendSafeText(t.line, v.Detail)
	if v.Ref != "" {
		t.line = append(t.line, " ("...)
		t.line = append(t.line, v.Ref...)
		t.line = append(t.line, ')')
	}
	t.emit()
}

// Gap implements dissect.Sink.
func (t *Text) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	if t.o.Quiet {
		return
	}
	t.head(c, g.Time, g.Dir)
	t.color(colViol)
	t.line = append(t.line, "GAP "...)
	t.color(colReset)
	t.line = strconv.AppendUint(t.line, g.Length, 10)
	t.line = append(t.line, " bytes lost at offset "...)
	t.line = strconv.AppendUint(t.line, g.Offset, 10)
	if g.InFrame {
		t.line = append(t.line, ", direction out of sync"...)
	}
	t.emit()
}

// End implements dissect.Sink: the conversation summary line.
func (t *Text) End(c *dissect.ConvRef, s *dissect.Summary) {
	if !s.IsWebSocket && s.Handshake == nil && !t.o.AllConversations {
		return
	}
	t.stamp(s.End)
	t.line = append(t.line, '#')
	t.line = strconv.AppendUint(t.line, c.ID, 10)
	t.line = append(t.line, ' ')
	t.line = append(t.line, c.Client...)
	t.line = append(t.line, " > "...)
	t.line = append(t.line, c.Server...)
	t.line = append(t.line, " end "...)
	switch {
	case s.IsWebSocket:
		t.line = append(t.line, s.Protocol...)
		if s.Midstream {
			t.line = append(t.line, " (handshake not seen)"...)
		}
	case s.Handshake != nil && s.Handshake.Response == nil:
		t.line = append(t.line, "upgrade-unanswered"...)
	case s.Handshake != nil:
		t.line = append(t.line, "upgrade-refused "...)
		t.line = strconv.AppendInt(t.line, int64(s.Handshake.Response.StatusCode), 10)
	default:
		t.line = append(t.line, "tcp"...)
	}
	if s.Handshake != nil && s.Handshake.Request.URI != "" {
		t.line = append(t.line, ' ')
		t.str(s.Handshake.Request.URI)
	}
	t.line = append(t.line, " dur="...)
	t.line = appendDuration(t.line, s.End.Sub(s.Start))
	for d := dissect.FromClient; d <= dissect.FromServer; d++ {
		st := &s.Stats[d]
		tcp := &s.TCP[d]
		if d == dissect.FromClient {
			t.line = append(t.line, " | c>s "...)
		} else {
			t.line = append(t.line, " | s>c "...)
		}
		if s.IsWebSocket {
			t.line = append(t.line, "msgs="...)
			t.line = strconv.AppendUint(t.line, st.Messages, 10)
			t.line = append(t.line, " ctrl="...)
			t.line = strconv.AppendUint(t.line, st.Controls, 10)
			t.line = append(t.line, " payload="...)
			t.line = strconv.AppendUint(t.line, st.PayloadBytes, 10)
			t.line = append(t.line, "B "...)
		}
		t.line = append(t.line, "pkts="...)
		t.line = strconv.AppendUint(t.line, tcp.Packets, 10)
		t.line = append(t.line, " bytes="...)
		t.line = strconv.AppendUint(t.line, tcp.Bytes, 10)
		t.line = append(t.line, 'B')
		if tcp.Gaps > 0 {
			t.line = append(t.line, " gaps="...)
			t.line = strconv.AppendUint(t.line, tcp.Gaps, 10)
			t.line = append(t.line, '/')
			t.line = strconv.AppendUint(t.line, tcp.GapBytes, 10)
			t.line = append(t.line, 'B')
		}
		if st.Violations > 0 {
			t.line = append(t.line, " violations="...)
			t.line = strconv.AppendUint(t.line, st.Violations, 10)
		}
	}
	t.line = append(t.line, " |"...)
	if s.IsWebSocket {
		t.line = append(t.line, " close="...)
		t.line = appendCloseSummary(t.line, &s.Close, s.EndReason)
	}
	t.line = append(t.line, " tcp="...)
	t.line = append(t.line, s.EndReason.String()...)
	t.emit()
}

// appendCloseSummary writes how the closing handshake went. Without close
// frames, a connection that ended (FIN, RST, or reused ports) closed
// abnormally, which RFC 6455 §7.1.5 calls 1006; one still open when the
// capture ended, or given up as idle, did not close at all.
func appendCloseSummary(dst []byte, ci *dissect.CloseInfo, end dissect.EndReason) []byte {
	if !ci.Sent[dissect.FromClient] && !ci.Sent[dissect.FromServer] {
		switch end {
		case dissect.EndFIN, dissect.EndRST, dissect.EndReused:
			return append(dst, "none(1006)"...)
		}
		return append(dst, "none"...)
	}
	if ci.Clean {
		dst = append(dst, "clean"...)
	} else {
		dst = append(dst, "half"...)
	}
	dst = append(dst, ",by="...)
	dst = append(dst, ci.Initiator.String()...)
	for d := dissect.FromClient; d <= dissect.FromServer; d++ {
		dst = append(dst, ',')
		dst = append(dst, d.String()[0])
		dst = append(dst, '=')
		switch {
		case !ci.Sent[d]:
			dst = append(dst, '-')
		case ci.HasCode[d]:
			dst = strconv.AppendUint(dst, uint64(ci.Code[d]), 10)
		default:
			dst = append(dst, "none"...)
		}
	}
	return dst
}

func appendDuration(dst []byte, d time.Duration) []byte {
	switch {
	case d < time.Millisecond:
		return append(strconv.AppendFloat(dst, float64(d)/1e3, 'f', 1, 64), "us"...)
	case d < time.Second:
		return append(strconv.AppendFloat(dst, float64(d)/1e6, 'f', 3, 64), "ms"...)
	}
	return append(strconv.AppendFloat(dst, d.Seconds(), 'f', 3, 64), 's')
}

// CloseCodeName returns the short name of a close status code registered
// with IANA (RFC 6455 §7.4.1 and the WebSocket Close Code Number Registry),
// or "" for codes without a name.
func CloseCodeName(code uint16) string {
	switch code {
	case 1000:
		return "normal"
	case 1001:
		return "going_away"
	case 1002:
		return "protocol_error"
	case 1003:
		return "unsupported_data"
	case 1005:
		return "no_status"
	case 1006:
		return "abnormal"
	case 1007:
		return "invalid_payload"
	case 1008:
		return "policy_violation"
	case 1009:
		return "message_too_big"
	case 1010:
		return "mandatory_extension"
	case 1011:
		return "internal_error"
	case 1012:
		return "service_restart"
	case 1013:
		return "try_again_later"
	case 1014:
		return "bad_gateway"
	case 1015:
		return "tls_handshake"
	}
	return ""
}

// appendSafeText appends s with every control character escaped, as
// AppendSafe does, but leaves backslashes as they are: for text wsdump wrote
// itself, where wire bytes are already quoted.
func appendSafeText(dst []byte, s string) []byte {
	for len(s) > 0 {
		i := strings.IndexByte(s, '\\')
		if i < 0 {
			return AppendSafe(dst, []byte(s), 0)
		}
		dst = AppendSafe(dst, []byte(s[:i]), 0)
		dst = append(dst, '\\')
		s = s[i+1:]
	}
	return dst
}
