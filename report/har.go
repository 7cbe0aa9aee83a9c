package report

import (
	"bufio"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wsdump/wsdump/dissect"
)

// HAROptions configure the HAR writer.
type HAROptions struct {
	Creator Generator
	// MemoryBudget bounds the memory taken by the encoded messages of the
	// WebSocket conversations that have not ended yet, all together (0:
	// DefaultMemoryBudget). Beyond it they are moved to a temporary file in
	// os.TempDir, whose name is removed at once (where the system allows)
	// and which Close closes. Only when that file
	// cannot be created or written are further messages left out of their
	// entry, and counted in the entry's _messagesDropped.
	MemoryBudget int
}

// HAR writes an HTTP Archive 1.2 log the way Chrome's developer tools
// export WebSocket traffic: one entry per upgrade request, with the request,
// the response (101 and its headers) and, for an accepted upgrade,
// _resourceType "websocket" and _webSocketMessages holding the text and
// binary messages (type "send" from the client, "receive" from the server;
// time in epoch seconds with microseconds; opcode 1 or 2; data as text, or
// base64 for binary). A refused upgrade is an ordinary entry; one left
// unanswered has status 0. It implements dissect.Sink.
//
// The log is written compact, as it goes, each entry on a line of its own
// when its conversation ends, so the file lists entries in that order. The
// messages of open conversations are held in memory up to MemoryBudget and
// in a temporary file beyond it.
type HAR struct {
	w      *bufio.Writer
	o      HAROptions
	convs  map[*dissect.ConvRef]*harConv
	sp     *spool
	n      int
	err    error
	closed bool
	buf    []byte
}

type harConv struct {
	messages spoolList
	dropped  uint64
}

// NewHAR returns a HAR writer to w and writes the start of the log.
func NewHAR(w io.Writer, o HAROptions) *HAR {
	h := &HAR{w: bufio.NewWriterSize(w, 64<<10), o: o, convs: map[*dissect.ConvRef]*harConv{}, sp: newSpool(o.MemoryBudget)}
	creator := struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}{o.Creator.Name, o.Creator.Version}
	h.write([]byte(`{"log":{"version":"1.2","creator":`))
	h.write(mustJSON(creator))
	h.write([]byte(`,"pages":[],"entries":[`))
	return h
}

func (h *HAR) write(b []byte) {
	if h.err != nil {
		return
	}
	if _, err := h.w.Write(b); err != nil {
		h.err = err
	}
}

// Handshake implements dissect.Sink: messages of the conversation are
// collected from now on.
func (h *HAR) Handshake(c *dissect.ConvRef, hs *dissect.Handshake) {
	if h.convs[c] == nil {
		h.convs[c] = &harConv{}
	}
}

// Frame implements dissect.Sink.
func (h *HAR) Frame(c *dissect.ConvRef, f *dissect.Frame) {}

// Violation implements dissect.Sink.
func (h *HAR) Violation(c *dissect.ConvRef, v *dissect.Violation) {}

// Gap implements dissect.Sink.
func (h *HAR) Gap(c *dissect.ConvRef, g *dissect.Gap) {}

// Message implements dissect.Sink.
func (h *HAR) Message(c *dissect.ConvRef, m *dissect.Message) {
	hc := h.convs[c]
	if hc == nil || (m.Opcode != dissect.OpText && m.Opcode != dissect.OpBinary) {
		return
	}
	b := h.buf[:0]
	b = append(b, `{"type":`...)
	if m.Dir == dissect.FromClient {
		b = append(b, `"send"`...)
	} else {
		b = append(b, `"receive"`...)
	}
	b = append(b, `,"time":`...)
	b = appendEpochMicro(b, m.End)
	b = append(b, `,"opcode":`...)
	b = strconv.AppendInt(b, int64(m.Opcode), 10)
	b = append(b, `,"data":`...)
	if m.Opcode == dissect.OpBinary {
		b = append(b, '"')
		b = appendBase64(b, m.Payload)
		b = append(b, '"')
	} else {
		b = appendJSONString(b, m.Payload)
	}
	b = append(b, '}')
	h.buf = b
	if !h.sp.add(&hc.messages, b) {
		hc.dropped++
	}
}

// appendEpochMicro appends t as seconds since the epoch with six decimals.
func appendEpochMicro(b []byte, t time.Time) []byte {
	us := t.UnixMicro()
	if us < 0 {
		return strconv.AppendFloat(b, float64(us)/1e6, 'f', 6, 64)
	}
	b = strconv.AppendInt(b, us/1e6, 10)
	b = append(b, '.')
	frac := us % 1e6
	for d := int64(100000); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return b
}

type harHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harQuery struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type harRequest struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []any       `json:"cookies"`
	Headers     []harHeader `json:"headers"`
	QueryString []harQuery  `json:"queryString"`
	HeadersSize int         `json:"headersSize"`
	BodySize    int         `json:"bodySize"`
}

type harContent struct {
	Size     int    `json:"size"`
	MimeType string `json:"mimeType"`
}

type harResponse struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Cookies     []any       `json:"cookies"`
	Headers     []harHeader `json:"headers"`
	Content     harContent  `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int         `json:"headersSize"`
	BodySize    int         `json:"bodySize"`
}

type harTimings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
	SSL     float64 `json:"ssl"`
}

type harEntry struct {
	StartedDateTime string      `json:"startedDateTime"`
	Time            float64     `json:"time"`
	Request         harRequest  `json:"request"`
	Response        harResponse `json:"response"`
	Cache           struct{}    `json:"cache"`
	Timings         harTimings  `json:"timings"`
	ServerIPAddress string      `json:"serverIPAddress"`
	Connection      string      `json:"connection"`
	ResourceType    string      `json:"_resourceType,omitempty"`
	// The messages of a WebSocket entry, and their count of dropped ones,
	// are written after the other fields (see HAR.End).
}

func harHeaders(hs []dissect.Header) []harHeader {
	out := make([]harHeader, 0, len(hs))
	for _, h := range hs {
		out = append(out, harHeader{h.Name, h.Value})
	}
	return out
}

// requestURL rebuilds the URL of an upgrade request: ws://HOST/PATH from
// the Host header (the server's address when it is missing or unusable),
// or the request target when it is an absolute URL already.
func requestURL(hs *dissect.Handshake, server string) (string, []harQuery) {
	target := hs.Request.URI
	var u *url.URL
	if !strings.HasPrefix(target, "/") {
		if v, err := url.Parse(target); err == nil && v.Scheme != "" && v.Host != "" {
			u = v
		}
	}
	if u == nil {
		host := hs.Host
		if v, err := url.Parse("ws://" + host + "/"); host == "" || err != nil || v.Host != host || v.User != nil {
			host = server
		}
		path := target
		if !strings.HasPrefix(path, "/") {
			path = "/"
		}
		v, err := url.Parse("ws://" + host + path)
		if err != nil {
			v = &url.URL{Scheme: "ws", Host: host, Path: "/"}
		}
		u = v
	}
	qs := []harQuery{}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		qs = append(qs, harQuery{k, v})
	}
	return u.String(), qs
}

// End implements dissect.Sink: the conversation's entry is written.
func (h *HAR) End(c *dissect.ConvRef, s *dissect.Summary) {
	hc := h.convs[c]
	delete(h.convs, c)
	if hc == nil {
		hc = &harConv{}
	}
	hs := s.Handshake
	if hs == nil {
		h.sp.drop(&hc.messages)
		return
	}
	u, qs := requestURL(hs, c.Server)
	e := harEntry{
		StartedDateTime: formatTime(hs.Request.Time),
		Request: harRequest{
			Method: hs.Request.Method, URL: u, HTTPVersion: hs.Request.Version,
			Cookies: []any{}, Headers: harHeaders(hs.Request.Headers), QueryString: qs,
			HeadersSize: -1, BodySize: 0,
		},
		Response: harResponse{
			Cookies: []any{}, Headers: []harHeader{}, HeadersSize: -1,
			Content: harContent{Size: 0, MimeType: "x-unknown"},
		},
		Timings:         harTimings{Blocked: -1, DNS: -1, Connect: -1, SSL: -1, Receive: 0},
		ServerIPAddress: endpointOf(c.Server).IP,
		Connection:      strconv.FormatUint(c.ID, 10),
	}
	if r := hs.Response; r != nil {
		e.Response.Status = r.StatusCode
		e.Response.StatusText = r.Reason
		e.Response.HTTPVersion = r.Version
		e.Response.Headers = harHeaders(r.Headers)
		if loc, ok := dissect.GetHeader(r.Headers, "Location"); ok {
			e.Response.RedirectURL = loc
		}
		if wait := r.Time.Sub(hs.Request.Time); wait > 0 {
			e.Timings.Wait = ms(wait)
			e.Time = e.Timings.Wait
		}
	}
	if hs.Upgraded {
		e.ResourceType = "websocket"
	}
	b, err := marshal(&e, "", "")
	if err == nil && (len(b) < 2 || b[len(b)-1] != '}') {
		err = errors.New("report: HAR entry is not an object")
	}
	if err != nil {
		h.sp.drop(&hc.messages)
		if h.err == nil {
			h.err = err
		}
		return
	}
	if h.n > 0 {
		h.write([]byte(",\n"))
	} else {
		h.write([]byte("\n"))
	}
	if !hs.Upgraded {
		h.sp.drop(&hc.messages)
		h.write(b)
		h.n++
		return
	}
	h.write(b[:len(b)-1])
	h.write([]byte(`,"_webSocketMessages":[`))
	if err := h.sp.writeTo(h.write, &hc.messages); err != nil && h.err == nil {
		h.err = err
	}
	h.buf = append(h.buf[:0], ']')
	if hc.dropped > 0 {
		h.buf = append(h.buf, `,"_messagesDropped":`...)
		h.buf = strconv.AppendUint(h.buf, hc.dropped, 10)
	}
	h.buf = append(h.buf, '}')
	h.write(h.buf)
	h.n++
}

// Close writes the end of the log, flushes, and removes the temporary
// file. Entries of conversations that have not ended are left out. It
// returns the first error met in writing the log or reading the temporary
// file back; calling it again only returns that error.
func (h *HAR) Close() error {
	if h.closed {
		return h.err
	}
	h.closed = true
	h.write([]byte("\n]}}\n"))
	if err := h.w.Flush(); err != nil && h.err == nil {
		h.err = err
	}
	if err := h.sp.Close(); err != nil && h.err == nil {
		h.err = err
	}
	return h.err
}
