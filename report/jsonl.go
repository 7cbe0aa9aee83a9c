package report

import (
	"io"
	"strconv"

	"github.com/wsdump/wsdump/dissect"
)

// JSONLOptions configure the JSON Lines stream.
type JSONLOptions struct {
	// FlushEach flushes after every line: for pipes and terminals read
	// while the capture goes on. Otherwise lines are buffered and Close
	// flushes them.
	FlushEach bool
	// AllConversations writes "conversation" summaries also for TCP
	// conversations that never tried to speak WebSocket.
	AllConversations bool
}

// JSONL writes one self-contained JSON object per line for each event as
// it happens: "handshake", "message" (data messages and control frames),
// "violation", "gap", and "conversation" for the summary at the end of a
// conversation. Every line carries the event kind, the conversation id and
// both endpoints. It implements dissect.Sink.
//
// Message lines are encoded by hand, straight into the output buffer; the
// other kinds, rarer, go through encoding/json. Memory holds the lines not
// yet written (jsonlChunk bytes and one line at most) plus a short prefix
// per open conversation.
type JSONL struct {
	w      io.Writer
	o      JSONLOptions
	line   []byte // lines not yet written, then the line being made
	err    error
	prefix map[*dissect.ConvRef]*convPrefix
}

// jsonlChunk is how many bytes of lines are gathered before they are
// written (unless each line is flushed).
const jsonlChunk = 256 << 10

// convPrefix is the cached `"conversation":N,"client":{...},"server":{...}`
// of a conversation, rebuilt when its endpoints change (the dissector may
// swap client and server when the content shows the roles).
type convPrefix struct {
	client, server string
	b              []byte
}

// NewJSONL returns a JSONL writing to w.
func NewJSONL(w io.Writer, o JSONLOptions) *JSONL {
	return &JSONL{w: w, o: o, prefix: map[*dissect.ConvRef]*convPrefix{}}
}

// start begins a line: {"event":KIND,"conversation":...,"client":...,"server":...
func (l *JSONL) start(kind string, c *dissect.ConvRef) {
	p := l.prefix[c]
	if p == nil {
		p = &convPrefix{}
		l.prefix[c] = p
	}
	if p.b == nil || p.client != c.Client || p.server != c.Server {
		p.client, p.server = c.Client, c.Server
		b := append(p.b[:0], `"conversation":`...)
		b = strconv.AppendUint(b, c.ID, 10)
		b = append(b, `,"client":`...)
		b = appendEndpoint(b, c.Client)
		b = append(b, `,"server":`...)
		b = appendEndpoint(b, c.Server)
		p.b = b
	}
	l.line = append(l.line, `{"event":"`...)
	l.line = append(l.line, kind...)
	l.line = append(l.line, `",`...)
	l.line = append(l.line, p.b...)
}

func (l *JSONL) emit() {
	if l.err != nil {
		l.line = l.line[:0]
		return
	}
	l.line = append(l.line, '\n')
	if l.o.FlushEach || len(l.line) >= jsonlChunk {
		l.flush()
	}
}

// flush writes the lines made so far.
func (l *JSONL) flush() {
	if len(l.line) > 0 && l.err == nil {
		if _, err := l.w.Write(l.line); err != nil {
			l.err = err
		}
	}
	l.line = l.line[:0]
}

// object appends the fields of v (an object) without its braces.
func (l *JSONL) object(v any) {
	b, err := marshal(v, "", "")
	if err != nil {
		if l.err == nil {
			l.err = err
		}
		return
	}
	if len(b) > 2 {
		l.line = append(l.line, ',')
		l.line = append(l.line, b[1:len(b)-1]...)
	}
}

// Handshake implements dissect.Sink.
func (l *JSONL) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	l.start("handshake", c)
	l.line = appendKey(l.line, "time")
	l.line = appendTime(l.line, h.Request.Time)
	l.line = appendKey(l.line, "handshake")
	b, err := marshal(handshakeOf(h), "", "")
	if err != nil {
		b = []byte("null")
	}
	l.line = append(l.line, b...)
	l.line = append(l.line, '}')
	l.emit()
}

// Frame implements dissect.Sink; frames are not events of the stream.
func (l *JSONL) Frame(c *dissect.ConvRef, f *dissect.Frame) {}

// Message implements dissect.Sink.
func (l *JSONL) Message(c *dissect.ConvRef, m *dissect.Message) {
	l.start("message", c)
	l.line = appendMessageFields(l.line, m)
	l.emit()
}

// Violation implements dissect.Sink.
func (l *JSONL) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	l.start("violation", c)
	l.line = appendViolationFields(l.line, v)
	l.emit()
}

// Gap implements dissect.Sink.
func (l *JSONL) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	l.start("gap", c)
	l.line = appendGapFields(l.line, g)
	l.emit()
}

// End implements dissect.Sink: a "conversation" line with the summary.
func (l *JSONL) End(c *dissect.ConvRef, s *dissect.Summary) {
	defer delete(l.prefix, c)
	if !s.IsWebSocket && s.Handshake == nil && !l.o.AllConversations {
		return
	}
	l.start("conversation", c)
	cj := conversationOf(c, s)
	// id, client and server are in the prefix already.
	l.object(struct {
		Start     *string        `json:"start"`
		End       *string        `json:"end"`
		EndReason string         `json:"end_reason"`
		WebSocket bool           `json:"websocket"`
		Protocol  *string        `json:"protocol"`
		Handshake *HandshakeJSON `json:"handshake"`
		Close     *CloseJSON     `json:"close"`
		Stats     StatsJSON      `json:"stats"`
	}{cj.Start, cj.End, cj.EndReason, cj.WebSocket, cj.Protocol, cj.Handshake, cj.Close, cj.Stats})
	l.line = append(l.line, '}')
	l.emit()
}

// Close flushes the stream and returns the first write error met.
func (l *JSONL) Close() error {
	l.flush()
	return l.err
}
