package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/wsdump/wsdump/dissect"
)

// JSONOptions configure the JSON report.
type JSONOptions struct {
	Generator Generator
	Inputs    []Input
	// MaxPayload is the payload cap the dissector was run with (0: none),
	// recorded in the report.
	MaxPayload int
	// MemoryBudget bounds the memory taken by the encoded messages,
	// violations and gaps of the conversations that have not ended yet,
	// all together (0: DefaultMemoryBudget). Beyond it they are moved to a
	// temporary file in os.TempDir, whose name is removed at once (where
	// the system allows) and which Close closes.
	// Only when that file cannot be created or written are further
	// messages left out, and counted in their conversation's
	// messages_dropped (violations and gaps are left out uncounted).
	MemoryBudget int
	// AllConversations includes TCP conversations that never tried to
	// speak WebSocket.
	AllConversations bool
}

// JSON writes the versioned JSON report: one document holding every
// conversation with its messages, violations and gaps, then the statistics
// of the run. It implements dissect.Sink.
//
// The document is written compact, as it goes: the header when the sink is
// made, a conversation (on a line of its own) when it ends, the statistics
// on Close. Until a conversation ends, its encoded events are held in
// memory and, beyond MemoryBudget, in a temporary file; the memory taken
// is therefore the summaries of the open conversations plus at most
// MemoryBudget (payloads are already capped by the dissector's MaxPayload).
type JSON struct {
	w      *bufio.Writer
	o      JSONOptions
	convs  map[*dissect.ConvRef]*jsonConv
	sp     *spool
	n      int // conversations written
	err    error
	closed bool
	buf    []byte
}

type jsonConv struct {
	messages, violations, gaps spoolList
	dropped                    uint64
}

// NewJSON returns a JSON report writing to w, and writes its header.
func NewJSON(w io.Writer, o JSONOptions) *JSON {
	if o.Inputs == nil {
		o.Inputs = []Input{}
	}
	j := &JSON{w: bufio.NewWriterSize(w, 64<<10), o: o, convs: map[*dissect.ConvRef]*jsonConv{}, sp: newSpool(o.MemoryBudget)}
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

// Handshake implements dissect.Sink. The handshake is written with the
// conversation's summary.
func (j *JSON) Handshake(c *dissect.ConvRef, h *dissect.Handshake) { j.conv(c) }

// Frame implements dissect.Sink; frames are not part of the report.
func (j *JSON) Frame(c *dissect.ConvRef, f *dissect.Frame) {}

// Message implements dissect.Sink.
func (j *JSON) Message(c *dissect.ConvRef, m *dissect.Message) {
	jc := j.conv(c)
	j.buf = appendMessage(j.buf[:0], c.ID, m)
	if !j.sp.add(&jc.messages, j.buf) {
		jc.dropped++
	}
}

// Violation implements dissect.Sink.
func (j *JSON) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	jc := j.conv(c)
	j.buf = appendViolation(j.buf[:0], c.ID, v)
	j.sp.add(&jc.violations, j.buf)
}

// Gap implements dissect.Sink.
func (j *JSON) Gap(c *dissect.ConvRef, g *dissect.Gap) {
	jc := j.conv(c)
	j.buf = appendGap(j.buf[:0], c.ID, g)
	j.sp.add(&jc.gaps, j.buf)
}

// End implements dissect.Sink: the conversation is written out.
func (j *JSON) End(c *dissect.ConvRef, s *dissect.Summary) {
	jc := j.convs[c]
	delete(j.convs, c)
	if jc == nil {
		jc = &jsonConv{}
	}
	if !s.IsWebSocket && s.Handshake == nil && !j.o.AllConversations {
		j.sp.drop(&jc.messages)
		j.sp.drop(&jc.violations)
		j.sp.drop(&jc.gaps)
		return
	}
	// The summary is encoded without the lists, which are streamed in
	// after it: the object ends with them (see ConversationJSON).
	b, err := marshal(convHead{ConversationJSON: conversationOf(c, s)}, "", "")
	if err == nil && (len(b) < 2 || b[len(b)-1] != '}') {
		err = errors.New("report: conversation summary is not an object")
	}
	if err != nil {
		j.sp.drop(&jc.messages)
		j.sp.drop(&jc.violations)
		j.sp.drop(&jc.gaps)
		if j.err == nil {
			j.err = err
		}
		return
	}
	if j.n > 0 {
		j.write([]byte(",\n"))
	} else {
		j.write([]byte("\n"))
	}
	j.write(b[:len(b)-1])
	j.write([]byte(`,"messages":[`))
	j.list(&jc.messages)
	j.buf = append(j.buf[:0], `],"messages_dropped":`...)
	j.buf = strconv.AppendUint(j.buf, jc.dropped, 10)
	j.buf = append(j.buf, `,"violations":[`...)
	j.write(j.buf)
	j.list(&jc.violations)
	j.write([]byte(`],"gaps":[`))
	j.list(&jc.gaps)
	j.write([]byte("]}"))
	j.n++
}

// convHead is a conversation without its lists: the fields declared here
// hide those of ConversationJSON and, left nil, are omitted.
type convHead struct {
	*ConversationJSON
	Messages        *struct{} `json:"messages,omitempty"`
	MessagesDropped *struct{} `json:"messages_dropped,omitempty"`
	Violations      *struct{} `json:"violations,omitempty"`
	Gaps            *struct{} `json:"gaps,omitempty"`
}

// list streams one list of a conversation out.
func (j *JSON) list(l *spoolList) {
	if err := j.sp.writeTo(j.write, l); err != nil && j.err == nil {
		j.err = err
	}
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

// Close writes the statistics and the end of the document, flushes, and
// removes the temporary file. Conversations that have not ended (none when
// the pipeline ran to its end) are left out. It returns the first error
// met in writing the document or reading the temporary file back. Calling
// it again only returns that error.
func (j *JSON) Close(st CaptureStats) error {
	if j.closed {
		return j.err
	}
	j.closed = true
	if st.Skipped == nil {
		st.Skipped = map[string]uint64{}
	}
	b, err := marshal(st, "", "")
	if err != nil && j.err == nil {
		j.err = err
	}
	j.write([]byte("\n],\"capture\":"))
	j.write(b)
	j.write([]byte("}\n"))
	if err := j.w.Flush(); err != nil && j.err == nil {
		j.err = err
	}
	if err := j.sp.Close(); err != nil && j.err == nil {
		j.err = err
	}
	return j.err
}
