package report

import (
	"encoding/hex"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/wsdump/wsdump/dissect"
)

// SchemaVersion is the version of the JSON data model shared by the JSON
// report and the JSON Lines events (report/schema). It changes its major
// number when a field is removed or changes meaning, its minor number when
// fields are added.
const SchemaVersion = "1.0"

// TimeLayout is how every time is written: RFC 3339 in UTC with nine
// fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// Generator names the program that wrote a report.
type Generator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Input describes one source of packets.
type Input struct {
	Name string `json:"name"` // file name, "-" for standard input
}

// CaptureStats are the counts of a whole run, written at the end of the
// JSON report and in the HAR creator comment.
type CaptureStats struct {
	Packets       uint64            `json:"packets"`
	Decoded       uint64            `json:"decoded"`
	Truncated     uint64            `json:"truncated"`
	Skipped       map[string]uint64 `json:"skipped"`
	Conversations uint64            `json:"conversations"`
	WebSockets    uint64            `json:"websockets"`
	Handshakes    uint64            `json:"handshakes"`
	Messages      uint64            `json:"messages"`
	Frames        uint64            `json:"frames"`
	Violations    uint64            `json:"violations"`
	Gaps          uint64            `json:"gaps"`
	First         *string           `json:"first"` // capture time of the first packet, null without packets
	Last          *string           `json:"last"`
	Interrupted   bool              `json:"interrupted"` // the run was stopped before the input ended
	Error         string            `json:"error,omitempty"`
}

// SetTimes fills First and Last from capture times (zero times give null).
func (s *CaptureStats) SetTimes(first, last time.Time) {
	s.First, s.Last = timePtr(first), timePtr(last)
}

func timePtr(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := formatTime(t)
	return &s
}

func formatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Endpoint is one side of a conversation.
type Endpoint struct {
	IP   string `json:"ip"`
	Port int    `json:"port"`
}

// endpointOf splits an "ip:port" string. An address that does not parse
// (which the pipeline never produces) keeps its text as IP and port 0.
func endpointOf(s string) Endpoint {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return Endpoint{IP: s}
	}
	return Endpoint{IP: ap.Addr().String(), Port: int(ap.Port())}
}

// HeaderJSON is one HTTP header, in wire order.
type HeaderJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func headersOf(hs []dissect.Header) []HeaderJSON {
	out := make([]HeaderJSON, 0, len(hs))
	for _, h := range hs {
		out = append(out, HeaderJSON{h.Name, h.Value})
	}
	return out
}

// ExtensionJSON is one negotiated or offered extension.
type ExtensionJSON struct {
	Name   string      `json:"name"`
	Params []ParamJSON `json:"params"`
}

// ParamJSON is one extension parameter; Value is null for a bare token.
type ParamJSON struct {
	Name  string  `json:"name"`
	Value *string `json:"value"`
}

func extensionsOf(es []dissect.Extension) []ExtensionJSON {
	out := make([]ExtensionJSON, 0, len(es))
	for _, e := range es {
		x := ExtensionJSON{Name: e.Name, Params: make([]ParamJSON, 0, len(e.Params))}
		for _, p := range e.Params {
			q := ParamJSON{Name: p.Name}
			if p.HasValue {
				v := p.Value
				q.Value = &v
			}
			x.Params = append(x.Params, q)
		}
		out = append(out, x)
	}
	return out
}

// HandshakeJSON is the opening handshake of a conversation.
type HandshakeJSON struct {
	Protocol       string          `json:"protocol"`
	Method         string          `json:"method"`
	URI            string          `json:"uri"`
	HTTPVersion    string          `json:"http_version"`
	RequestTime    string          `json:"request_time"`
	RequestHeaders []HeaderJSON    `json:"request_headers"`
	Status         *int            `json:"status"` // null when no response was captured
	Reason         *string         `json:"reason"`
	ResponseTime   *string         `json:"response_time"`
	Response       []HeaderJSON    `json:"response_headers"` // empty without a response
	Upgraded       bool            `json:"upgraded"`
	Key            string          `json:"key"`
	Accept         string          `json:"accept"`
	AcceptValid    bool            `json:"accept_valid"`
	Subprotocol    string          `json:"subprotocol"`
	Extensions     []ExtensionJSON `json:"extensions"` // accepted by the server
	OfferedProtos  []string        `json:"offered_subprotocols"`
	OfferedExts    []ExtensionJSON `json:"offered_extensions"`
	ChallengeValid *bool           `json:"challenge_valid,omitempty"` // hixie-76 only
}

func handshakeOf(h *dissect.Handshake) *HandshakeJSON {
	j := &HandshakeJSON{
		Protocol:       string(h.Protocol),
		Method:         h.Request.Method,
		URI:            h.Request.URI,
		HTTPVersion:    h.Request.Version,
		RequestTime:    formatTime(h.Request.Time),
		RequestHeaders: headersOf(h.Request.Headers),
		Response:       []HeaderJSON{},
		Upgraded:       h.Upgraded,
		Key:            h.Key,
		Accept:         h.Accept,
		AcceptValid:    h.AcceptValid,
		Subprotocol:    h.Subprotocol,
		Extensions:     extensionsOf(h.AcceptedExtensions),
		OfferedProtos:  append([]string{}, h.OfferedSubprotocols...),
		OfferedExts:    extensionsOf(h.OfferedExtensions),
	}
	if r := h.Response; r != nil {
		st, reason := r.StatusCode, r.Reason
		j.Status, j.Reason = &st, &reason
		j.ResponseTime = timePtr(r.Time)
		j.Response = headersOf(r.Headers)
	}
	if h.Protocol == dissect.ProtoHixie76 && h.Response != nil {
		v := h.ChallengeValid
		j.ChallengeValid = &v
	}
	return j
}

// CloseJSON is the closing handshake of a conversation. Code and Reason are
// those of the initiator's close frame.
type CloseJSON struct {
	Initiator string `json:"initiator"`
	Code      *int   `json:"code"`
	Reason    string `json:"reason"`
	Clean     bool   `json:"clean"`
	// ReplyCode is the status code of the other side's close frame.
	ReplyCode *int `json:"reply_code"`
}

func closeOf(c *dissect.CloseInfo) *CloseJSON {
	if !c.Sent[0] && !c.Sent[1] {
		return nil
	}
	d := c.Initiator
	if !c.Sent[d] {
		d = d.Opposite()
	}
	j := &CloseJSON{Initiator: d.String(), Reason: c.Reason[d], Clean: c.Clean}
	if c.HasCode[d] {
		v := int(c.Code[d])
		j.Code = &v
	}
	if o := d.Opposite(); c.Sent[o] && c.HasCode[o] {
		v := int(c.Code[o])
		j.ReplyCode = &v
	}
	return j
}

// RTTJSON summarises ping round trips, in milliseconds.
type RTTJSON struct {
	Count uint64  `json:"count"`
	Min   float64 `json:"min_ms"`
	Max   float64 `json:"max_ms"`
	Avg   float64 `json:"avg_ms"`
}

// TCPJSON are the transport counts of one direction.
type TCPJSON struct {
	Packets  uint64 `json:"packets"`
	Bytes    uint64 `json:"bytes"`
	Gaps     uint64 `json:"gaps"`
	GapBytes uint64 `json:"gap_bytes"`
	FIN      bool   `json:"fin"`
	RST      bool   `json:"rst"`
}

// DirStatsJSON counts what one direction carried.
type DirStatsJSON struct {
	Frames        uint64   `json:"frames"`
	Messages      uint64   `json:"messages"` // data messages
	Controls      uint64   `json:"controls"` // control frames
	WireBytes     uint64   `json:"wire_bytes"`
	PayloadBytes  uint64   `json:"payload_bytes"`
	Compressed    uint64   `json:"compressed_bytes"`
	Inflated      uint64   `json:"inflated_bytes"`
	Pings         uint64   `json:"pings"`
	Pongs         uint64   `json:"pongs"`
	Violations    uint64   `json:"violations"`
	RTT           *RTTJSON `json:"rtt"` // null when no pong answered a ping
	OutOfSync     bool     `json:"out_of_sync"`
	UndecodedTail uint64   `json:"undecoded_bytes"`
	TCP           TCPJSON  `json:"tcp"`
}

// StatsJSON holds the counts of both directions.
type StatsJSON struct {
	Client DirStatsJSON `json:"client"`
	Server DirStatsJSON `json:"server"`
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func dirStatsOf(s *dissect.DirStats, t *dissect.TCPStats) DirStatsJSON {
	j := DirStatsJSON{
		Frames: s.Frames, Messages: s.Messages, Controls: s.Controls,
		WireBytes: s.WireBytes, PayloadBytes: s.PayloadBytes,
		Compressed: s.Compressed, Inflated: s.Inflated,
		Pings: s.Pings, Pongs: s.Pongs, Violations: s.Violations,
		OutOfSync: s.OutOfSync, UndecodedTail: s.UndecodedTail,
		TCP: TCPJSON{t.Packets, t.Bytes, t.Gaps, t.GapBytes, t.FIN, t.RST},
	}
	if s.RTTCount > 0 {
		j.RTT = &RTTJSON{Count: s.RTTCount, Min: ms(s.RTTMin), Max: ms(s.RTTMax), Avg: ms(s.RTTSum) / float64(s.RTTCount)}
	}
	return j
}

// ConversationJSON is the summary of one conversation. In the JSON report
// it also holds the conversation's messages, violations and gaps; in JSON
// Lines those were events of their own and these fields are absent.
type ConversationJSON struct {
	ID        uint64         `json:"id"`
	Client    Endpoint       `json:"client"`
	Server    Endpoint       `json:"server"`
	Start     *string        `json:"start"`
	End       *string        `json:"end"`
	EndReason string         `json:"end_reason"` // fin, rst, timeout, open, reused, unknown
	WebSocket bool           `json:"websocket"`
	Protocol  *string        `json:"protocol"` // null when it never spoke WebSocket
	Handshake *HandshakeJSON `json:"handshake"`
	Close     *CloseJSON     `json:"close"`
	Stats     StatsJSON      `json:"stats"`
	// Only in the JSON report:
	Messages        rawList `json:"messages"`
	MessagesDropped *uint64 `json:"messages_dropped,omitempty"`
	Violations      rawList `json:"violations"`
	Gaps            rawList `json:"gaps"`
}

func conversationOf(c *dissect.ConvRef, s *dissect.Summary) *ConversationJSON {
	j := &ConversationJSON{
		ID:        c.ID,
		Client:    endpointOf(c.Client),
		Server:    endpointOf(c.Server),
		Start:     timePtr(s.Start),
		End:       timePtr(s.End),
		EndReason: s.EndReason.String(),
		WebSocket: s.IsWebSocket,
		Close:     closeOf(&s.Close),
		Stats: StatsJSON{
			Client: dirStatsOf(&s.Stats[dissect.FromClient], &s.TCP[dissect.FromClient]),
			Server: dirStatsOf(&s.Stats[dissect.FromServer], &s.TCP[dissect.FromServer]),
		},
	}
	if s.Protocol != "" {
		p := string(s.Protocol)
		j.Protocol = &p
	}
	if s.Handshake != nil {
		j.Handshake = handshakeOf(s.Handshake)
	}
	return j
}

// rawList is a JSON array whose elements were encoded already, kept as
// one buffer ("[a,b,c]" without the brackets until marshalled). A nil
// rawList is omitted; an empty non-nil one is written as [].
type rawList []byte

func (r rawList) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, len(r)+2)
	out = append(out, '[')
	out = append(out, r...)
	return append(out, ']'), nil
}

// --- hand-written encoding of the frequent events ---

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does; <, > and & are kept as they are.
func appendJSONString[T string | []byte](dst []byte, s T) []byte {
	const hexd = "0123456789abcdef"
	dst = slices.Grow(dst, len(s)+2) // the output is at least that long
	dst = append(dst, '"')
	start, i := 0, 0
	simdFrom := 0 // where escapeASCIIChunks may be tried again
	for i < len(s) {
		if haveEscapeChunks && i >= simdFrom && len(s)-i >= 32 {
			// Printable ASCII sixteen bytes at a time, quotes and
			// backslashes escaped on the way.
			dst = append(dst, s[start:i]...)
			dst = slices.Grow(dst, 2*(len(s)-i)+32)
			out := dst[len(dst):cap(dst)]
			// The data pointer comes first in string and slice headers.
			in := (*byte)(unsafe.Add(unsafe.Pointer(*(**byte)(unsafe.Pointer(&s))), i))
			read, wrote := escapeASCIIChunks(unsafe.SliceData(out), len(out), in, len(s)-i)
			dst = dst[:len(dst)+wrote]
			i += read
			start = i
			if i == len(s) {
				break
			}
			// The next sixteen bytes are not all printable ASCII (or
			// fewer are left): the code below takes them.
			simdFrom = i + 16
		}
		// Skip printable ASCII other than '"' and '\\' (most of a text
		// payload) sixteen, then eight bytes at a time, stopping at the
		// first other byte.
		for len(s)-i >= 16 {
			t := s[i : i+16]
			a, b := jsonUnsafe8(load64(t[:8])), jsonUnsafe8(load64(t[8:]))
			if a|b != 0 {
				if a != 0 {
					i += bits.TrailingZeros64(a) >> 3
				} else {
					i += 8 + bits.TrailingZeros64(b)>>3
				}
				goto special
			}
			i += 16
		}
		if len(s)-i >= 8 {
			if m := jsonUnsafe8(load64(s[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto special
			}
			i += 8
			if i == len(s) {
				break
			}
		}
		if len(s) >= 8 {
			// Fewer than eight bytes are left: the last eight bytes of s,
			// those before i replaced by spaces (safe bytes).
			k := uint(i - (len(s) - 8))
			m := jsonUnsafe8(load64(s[len(s)-8:])>>(8*k) | 0x2020202020202020<<(64-8*k))
			if m == 0 {
				break
			}
			i += bits.TrailingZeros64(m) >> 3
		}
	special:
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			if c == '"' || c == '\\' {
				dst = append(dst, '\\', c)
				i++
				start = i
				continue
			}
			switch c {
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexd[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// load64 returns the first eight bytes of b, little-endian.
func load64[T string | []byte](b T) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// jsonUnsafe8 returns the high bit of each byte of w that is not printable
// ASCII other than '"' and '\\' (bytes appendJSONString copies as they
// are). Borrows only carry upward, so the lowest bit set is exact (bytes
// above it may be flagged falsely), and the result is 0 exactly when all
// eight bytes are safe.
func jsonUnsafe8(w uint64) uint64 {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	ctl := (w - 0x20*ones) &^ w       // a byte below 0x20
	q := w ^ '"'*ones                 // a byte equal to '"' becomes 0
	bs := w ^ '\\'*ones               // a byte equal to '\\' becomes 0
	zq := (q - ones) &^ q             // a zero byte in q
	zb := (bs - ones) &^ bs           // a zero byte in bs
	return (ctl | zq | zb | w) & high // w: a byte of 0x80 or more
}

func appendKey(dst []byte, k string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, k...)
	return append(dst, '"', ':')
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = appendTimeUTC(dst, t)
	return append(dst, '"')
}

// appendTimeUTC appends t in UTC as TimeLayout writes it. Times from 1970
// to 9999 are formatted by hand (civil date from the day number), others
// through time.Time.AppendFormat, for the same text.
func appendTimeUTC(dst []byte, t time.Time) []byte {
	const maxSec = 253402300799 // 9999-12-31T23:59:59Z
	sec := t.Unix()
	if sec < 0 || sec > maxSec {
		return t.UTC().AppendFormat(dst, TimeLayout)
	}
	days, rem := sec/86400, sec%86400
	// Civil date of a day number (days since 1970-01-01).
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day := doy - (153*mp+2)/5 + 1
	month := mp + 3
	if mp >= 10 {
		month = mp - 9
	}
	year := yoe + era*400
	if month <= 2 {
		year++
	}
	var b [30]byte // 2006-01-02T15:04:05.000000000Z
	put2 := func(i int, v int64) {
		copy(b[i:i+2], digitPairs[2*v:2*v+2])
	}
	put2(0, year/100)
	put2(2, year%100)
	b[4] = '-'
	put2(5, month)
	b[7] = '-'
	put2(8, day)
	b[10] = 'T'
	put2(11, rem/3600)
	b[13] = ':'
	put2(14, rem/60%60)
	b[16] = ':'
	put2(17, rem%60)
	b[19] = '.'
	ns := int64(t.Nanosecond())
	b[28] = byte('0' + ns%10)
	ns /= 10
	for i := 26; i >= 20; i -= 2 {
		put2(i, ns%100)
		ns /= 100
	}
	b[29] = 'Z'
	return append(dst, b[:]...)
}

// digitPairs is "00" to "99", two bytes each.
const digitPairs = "00010203040506070809" +
	"10111213141516171819" +
	"20212223242526272829" +
	"30313233343536373839" +
	"40414243444546474849" +
	"50515253545556575859" +
	"60616263646566676869" +
	"70717273747576777879" +
	"80818283848586878889" +
	"90919293949596979899"

// appendEndpoint appends {"ip":...,"port":...} for an "ip:port" string.
func appendEndpoint(dst []byte, s string) []byte {
	e := endpointOf(s)
	dst = append(dst, `{"ip":`...)
	dst = appendJSONString(dst, e.IP)
	dst = append(dst, `,"port":`...)
	dst = strconv.AppendInt(dst, int64(e.Port), 10)
	return append(dst, '}')
}

// asText reports whether a message payload is written as "text" rather
// than base64 "data": text messages, pings and pongs whose kept bytes are
// valid UTF-8. Binary, close and reserved-opcode payloads are always data.
func asText(m *dissect.Message) bool {
	switch m.Opcode {
	case dissect.OpText, dissect.OpPing, dissect.OpPong:
		if m.ValidUTF8 && uint64(len(m.Payload)) == m.Length && (!m.Compressed || (m.Inflated && m.InflateErr == "")) {
			return true // the dissector checked these very bytes
		}
		return utf8.Valid(m.Payload)
	}
	return false
}

// appendMessageFields appends the fields of a message after an opening
// brace and "conversation": dst must already hold the start of the object.
func appendMessageFields(dst []byte, m *dissect.Message) []byte {
	dst = appendKey(dst, "index")
	dst = strconv.AppendUint(dst, m.Index, 10)
	dst = appendKey(dst, "time")
	at := len(dst)
	dst = appendTime(dst, m.End)
	end := len(dst)
	dst = appendKey(dst, "start")
	if m.Start.Equal(m.End) {
		// Most messages start and end in one packet.
		dst = append(dst, dst[at:end]...)
	} else {
		dst = appendTime(dst, m.Start)
	}
	dst = appendKey(dst, "from")
	dst = append(dst, '"')
	dst = append(dst, m.Dir.String()...)
	dst = append(dst, '"')
	dst = appendKey(dst, "opcode")
	dst = append(dst, '"')
	dst = append(dst, m.Opcode.String()...)
	dst = append(dst, '"')
	dst = appendKey(dst, "frames")
	dst = strconv.AppendInt(dst, int64(m.Frames), 10)
	dst = appendKey(dst, "compressed")
	dst = appendBool(dst, m.Compressed)
	dst = appendKey(dst, "length")
	dst = strconv.AppendUint(dst, m.Length, 10)
	dst = appendKey(dst, "wire_length")
	dst = strconv.AppendUint(dst, m.WireLength, 10)
	if asText(m) {
		dst = appendKey(dst, "text")
		dst = appendJSONString(dst, m.Payload)
	} else {
		dst = appendKey(dst, "data")
		dst = append(dst, '"')
		dst = appendBase64(dst, m.Payload)
		dst = append(dst, '"')
	}
	dst = appendKey(dst, "truncated")
	dst = appendBool(dst, m.Truncated)
	dst = appendKey(dst, "sha256")
	dst = append(dst, '"')
	dst = hex.AppendEncode(dst, m.SHA256[:])
	dst = append(dst, '"')
	if m.Incomplete {
		dst = appendKey(dst, "incomplete")
		dst = append(dst, "true"...)
	}
	if m.InflateErr != "" {
		dst = appendKey(dst, "inflate_error")
		dst = appendJSONString(dst, m.InflateErr)
	}
	if m.Opcode == dissect.OpClose {
		dst = appendKey(dst, "code")
		if m.HasCloseCode {
			dst = strconv.AppendUint(dst, uint64(m.CloseCode), 10)
		} else {
			dst = append(dst, "null"...)
		}
		dst = appendKey(dst, "reason")
		dst = appendJSONString(dst, m.CloseReason)
	}
	if m.Opcode == dissect.OpPong && m.HasRTT {
		dst = appendKey(dst, "rtt_ms")
		dst = strconv.AppendFloat(dst, ms(m.RTT), 'f', -1, 64)
	}
	if m.Unsolicited {
		dst = appendKey(dst, "unsolicited")
		dst = append(dst, "true"...)
	}
	return append(dst, '}')
}

// appendMessage appends a message object as it stands in the JSON report.
func appendMessage(dst []byte, id uint64, m *dissect.Message) []byte {
	dst = append(dst, `{"conversation":`...)
	dst = strconv.AppendUint(dst, id, 10)
	return appendMessageFields(dst, m)
}

// appendViolationFields appends the fields of a violation and the closing
// brace, after "conversation".
func appendViolationFields(dst []byte, v *dissect.Violation) []byte {
	dst = appendKey(dst, "code")
	dst = appendJSONString(dst, v.Code)
	dst = appendKey(dst, "severity")
	dst = appendJSONString(dst, v.Severity.String())
	dst = appendKey(dst, "from")
	dst = appendJSONString(dst, v.Dir.String())
	dst = appendKey(dst, "frame")
	if v.HasFrame {
		dst = strconv.AppendUint(dst, v.Frame, 10)
	} else {
		dst = append(dst, "null"...)
	}
	dst = appendKey(dst, "time")
	dst = appendTime(dst, v.Time)
	dst = appendKey(dst, "detail")
	dst = appendJSONString(dst, v.Detail)
	dst = appendKey(dst, "ref")
	dst = appendJSONString(dst, v.Ref)
	return append(dst, '}')
}

func appendViolation(dst []byte, id uint64, v *dissect.Violation) []byte {
	dst = append(dst, `{"conversation":`...)
	dst = strconv.AppendUint(dst, id, 10)
	return appendViolationFields(dst, v)
}

func appendGapFields(dst []byte, g *dissect.Gap) []byte {
	dst = appendKey(dst, "from")
	dst = appendJSONString(dst, g.Dir.String())
	dst = appendKey(dst, "time")
	dst = appendTime(dst, g.Time)
	dst = appendKey(dst, "offset")
	dst = strconv.AppendUint(dst, g.Offset, 10)
	dst = appendKey(dst, "length")
	dst = strconv.AppendUint(dst, g.Length, 10)
	dst = appendKey(dst, "in_frame")
	dst = appendBool(dst, g.InFrame)
	return append(dst, '}')
}

func appendGap(dst []byte, id uint64, g *dissect.Gap) []byte {
	dst = append(dst, `{"conversation":`...)
	dst = strconv.AppendUint(dst, id, 10)
	return appendGapFields(dst, g)
}
