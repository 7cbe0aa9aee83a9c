package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"

	"github.com/wsdump/wsdump/dissect"
)

// JSONOptions configure the JSON report.
type JSONOptions struct {
	Generator Generator
	Inputs    []Input
	// MaxPayload is the payload cap the dissector was run with (0: none),
	// recorded in the report.
	MaxPayload int
	// MaxHeldBytes bounds the encoded messages, violations and gaps held
	// for conversations that have not ended yet, all conversations
	// together (default 256 MiB). Beyond it, further messages of open
	// conversations are counted in messages_dropped instead of kept.
	MaxHeldBytes int
	// AllConversations includes TCP conversations that never tried to
	// speak WebSocket.
	AllConversations bool
	// Indent pretty-prints the document with this indent ("" writes it
	// compact, one conversation per line).
	Indent string
}

// JSON writes the versioned JSON report: one document holding every
// conversation with its messages, violations and gaps, then the statistics
// of the run. It implements dissect.Sink.
//
// The document is written as it goes: the header when the sink is made, a
// conversation when it ends, the statistics on Close. Memory therefore
// holds only the conversations still open, and within them at most
// MaxHeldBytes of encoded events (payloads are already capped by the
// dissector's MaxPayload).
type JSON struct {
	w      *bufio.Writer
	o      JSONOptions
	convs  map[*dissect.ConvRef]*jsonConv
	held   int
	n      int // conversations written
	err    error
	closed bool
	buf    []byte
}

type jsonConv struct {
	messages, violations, gaps rawList
	dropped                    uint64
	held                       int // bytes counted in JSON.held
}

// NewJSON returns a JSON report writing to w, and writes its header.
func NewJSON(w io.Writer, o JSONOptions) *JSON {
	if o.MaxHeldBytes <= 0 {
		o.MaxHeldBytes = 256 << 20
	}
	if o.Inputs == nil {
		o.Inputs = []Input{}
	}
	j := &JSON{w: bufio.NewWriterSize(w, 64<<10), o: o, convs: map[*dissect.ConvRef]*jsonConv{}}
	var head bytes.Buffer
	head.WriteString(`{"schema_version":`)
	head.Write(mustJSON(SchemaVersion))
	head.WriteString(`,"generator":`)
	head.Write(mustJSON(o.Generator))
	head.WriteString(`,"inputs":`)
	head.Write(mustJSON(o.Inputs))
	head.WriteString(`,"max_payload":`)
	head.Write(mustJSON(o.MaxPayload))
	head.WriteString(`,"conversations":[`)
	j.write(head.Bytes())
	return j
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the package's own types are marshalled
	}
	return b
}

func (j *JSON) write(b []byte) {
	if j.err != nil {
		return
	}
	if _, err := j.w.Write(b); err != nil {
		j.err = err
	}
}

func (j *JSON) conv(c *dissect.ConvRef) *jsonConv {
	jc := j.convs[c]
	if jc == nil {
		jc = &jsonConv{}
		j.convs[c] = jc
	}
	return jc
}

// hold appends an encoded event to l unless the bound is reached.
func (j *JSON) hold(jc *jsonConv, l *rawList, b []byte) bool {
	if j.held+len(b) > j.o.MaxHeldBytes {
		return false
	}
	j.held += len(b) + 1
	jc.held += len(b) + 1
	l.add(b)
	return true
}

// Handshake implements dissect.Sink. The handshake is written with the
// conversation's summary.
func (j *JSON) Handshake(c *dissect.ConvRef, h *dissect.Handshake) { j.conv(c) }

// Frame implements dissect.Sink; frames are not part of the report.
func (j *JSON) Frame(c *dissect.ConvRef, f *dissect.Frame) {}

// Message implements dissect.Sink.
func (j *JSON) Message(c *dissect.ConvRef, m *dissect.Message) {
	jc := j.conv(c)
	j.buf = appendMessage(j.buf[:0], c.ID, m)
	if !j.hold(jc, &jc.messages, j.buf) {
		jc.dropped++
	}
}

// Violation implements dissect.Sink.
func (j *JSON) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	jc := j.conv(c)
	j.buf = appendViolation(j.buf[:0], c.ID, v)
	j.hold(jc, &jc.violations, j.buf)
}

// Gap implements dissect.Sink.
func (j *JSON) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	jc := j.conv(c)
	j.buf = appendGap(j.buf[:0], c.ID, g)
	j.hold(jc, &jc.gaps, j.buf)
}

// End implements dissect.Sink: the conversation is written out.
func (j *JSON) End(c *dissect.ConvRef, s *dissect.Summary) {
	jc := j.convs[c]
	delete(j.convs, c)
	if jc == nil {
		jc = &jsonConv{}
	}
	j.held -= jc.held
	if !s.IsWebSocket && s.Handshake == nil && !j.o.AllConversations {
		return
	}
	cj := conversationOf(c, s)
	cj.Messages = nonNil(jc.messages)
	cj.Violations = nonNil(jc.violations)
	cj.Gaps = nonNil(jc.gaps)
	cj.MessagesDropped = &jc.dropped
	b, err := marshal(cj, j.o.Indent, j.o.Indent+j.o.Indent)
	if err != nil {
		if j.err == nil {
			j.err = err
		}
		return
	}
	if j.n > 0 {
		j.write([]byte{','})
	}
	j.write(newlineIndent(j.o.Indent, 1))
	j.write(b)
	j.n++
}

func nonNil(r rawList) rawList {
	if r == nil {
		return rawList{}
	}
	return r
}

func newlineIndent(indent string, depth int) []byte {
	b := []byte{'\n'}
	for i := 0; i < depth; i++ {
		b = append(b, indent...)
	}
	return b
}

// marshal encodes v without HTML escaping, indented when indent is set
// (continuation lines starting with prefix).
func marshal(v any, prefix, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if indent != "" {
		enc.SetIndent(prefix, indent)
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// Close ends conversations that never ended (none do when the pipeline
// ran to its end), writes the statistics and the end of the document, and
// flushes. It returns the first write error met. Calling it again only
// returns that error.
func (j *JSON) Close(st CaptureStats) error {
	if j.closed {
		return j.err
	}
	j.closed = true
	if st.Skipped == nil {
		st.Skipped = map[string]uint64{}
	}
	b, err := marshal(st, j.o.Indent, j.o.Indent)
	if err != nil && j.err == nil {
		j.err = err
	}
	j.write(newlineIndent(j.o.Indent, 0))
	j.write([]byte(`],"capture":`))
	j.write(b)
	j.write([]byte("}\n"))
	if err := j.w.Flush(); err != nil && j.err == nil {
		j.err = err
	}
	return j.err
}
