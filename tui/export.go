package tui

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/wsdump/wsdump/dissect"
)

// exportConv is the JSON form of one conversation written by 'e'.
type exportConv struct {
	Conversation int               `json:"conversation"`
	Client       string            `json:"client"`
	Server       string            `json:"server"`
	State        string            `json:"state"`
	Host         string            `json:"host,omitempty"`
	Path         string            `json:"path,omitempty"`
	Subprotocol  string            `json:"subprotocol,omitempty"`
	Compressed   bool              `json:"compressed"`
	First        *time.Time        `json:"first,omitempty"`
	Last         *time.Time        `json:"last,omitempty"`
	Request      *exportHTTP       `json:"request,omitempty"`
	Response     *exportHTTP       `json:"response,omitempty"`
	Counts       map[string]counts `json:"counts"`
	Violations   uint64            `json:"violations"`
	// EntriesNotKept counts the oldest timeline entries no longer held.
	EntriesNotKept uint64        `json:"entries_not_kept"`
	Events         []exportEvent `json:"events"`
}

type counts struct {
	Messages uint64 `json:"messages"`
	Bytes    uint64 `json:"bytes"`
}

type exportHTTP struct {
	Line    string      `json:"line"`
	Headers [][2]string `json:"headers"`
}

type exportEvent struct {
	Type      string    `json:"type"` // "message", "violation" or "gap"
	Time      time.Time `json:"time"`
	Direction string    `json:"direction"`

	Opcode      string `json:"opcode,omitempty"`
	Index       uint64 `json:"index,omitempty"`
	Frames      int    `json:"frames,omitempty"`
	Length      uint64 `json:"length,omitempty"`
	WireLength  uint64 `json:"wire_length,omitempty"`
	Compressed  bool   `json:"compressed,omitempty"`
	Incomplete  bool   `json:"incomplete,omitempty"`
	CloseCode   uint16 `json:"close_code,omitempty"`
	CloseReason string `json:"close_reason,omitempty"`
	// Text holds a valid UTF-8 payload, Base64 any other; Truncated says
	// only the first bytes were kept, BodyDropped that none were.
	Text        *string `json:"text,omitempty"`
	Base64      []byte  `json:"base64,omitempty"`
	Truncated   bool    `json:"truncated,omitempty"`
	BodyDropped bool    `json:"body_dropped,omitempty"`

	Code   string `json:"code,omitempty"`
	Detail string `json:"detail,omitempty"`
	Ref    string `json:"ref,omitempty"`

	GapBytes uint64 `json:"gap_bytes,omitempty"`
}

// export writes the selected conversation to wsdump-conv-N.json and returns
// the status line that says where (or what failed).
func (m *Model) export() string {
	c := m.selected()
	if c == nil {
		return "nothing to export: no conversation selected"
	}
	x := buildExport(c)
	data, err := json.MarshalIndent(x, "", "  ")
	if err != nil {
		return "export failed: " + err.Error()
	}
	name := filepath.Join(m.opt.ExportDir, fmt.Sprintf("wsdump-conv-%d.json", c.num))
	if err := os.WriteFile(name, append(data, '\n'), 0o644); err != nil {
		return "export failed: " + err.Error()
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	return fmt.Sprintf("conversation #%d written to %s", c.num, abs)
}

func buildExport(c *conv) *exportConv {
	x := &exportConv{
		Conversation:   c.num,
		Client:         c.client,
		Server:         c.server,
		State:          c.state(),
		Compressed:     c.compressed,
		Violations:     c.violations,
		EntriesNotKept: c.trimmed,
		Counts: map[string]counts{
			"client": {c.msgs[0], c.bytes[0]},
			"server": {c.msgs[1], c.bytes[1]},
		},
		Events: make([]exportEvent, 0, c.count()),
	}
	if !c.first.IsZero() {
		f, l := c.first, c.last
		x.First, x.Last = &f, &l
	}
	if hs := c.hs; hs != nil {
		x.Host, x.Path, x.Subprotocol = hs.Host, hs.Request.URI, hs.Subprotocol
		q := &hs.Request
		x.Request = &exportHTTP{Line: q.Method + " " + q.URI + " " + q.Version, Headers: pairs(q.Headers)}
		if r := hs.Response; r != nil {
			x.Response = &exportHTTP{Line: fmt.Sprintf("%s %d %s", r.Version, r.StatusCode, r.Reason), Headers: pairs(r.Headers)}
		}
	}
	c.each(func(e *entry) {
		ev := exportEvent{Time: e.time().UTC(), Direction: e.dir().String()}
		switch e.kind {
		case entViolation:
			ev.Type, ev.Code, ev.Detail, ev.Ref = "violation", e.vio.Code, e.vio.Detail, e.vio.Ref
		case entGap:
			ev.Type, ev.GapBytes = "gap", e.gap.Length
		default:
			mi := &e.msg
			ev.Type = "message"
			ev.Opcode, ev.Index, ev.Frames = mi.Opcode.String(), mi.Index, mi.Frames
			ev.Length, ev.WireLength = mi.Length, mi.WireLength
			ev.Compressed, ev.Incomplete = mi.Compressed, mi.Incomplete
			if mi.Opcode == dissect.OpClose && mi.HasCloseCode {
				ev.CloseCode, ev.CloseReason = mi.CloseCode, mi.CloseReason
			}
			ev.Truncated, ev.BodyDropped = mi.Truncated, e.bodyDropped
			if mi.Body != nil {
				if utf8.Valid(mi.Body) && mi.Opcode != dissect.OpBinary {
					s := string(mi.Body)
					ev.Text = &s
				} else {
					ev.Base64 = mi.Body
				}
			}
		}
		x.Events = append(x.Events, ev)
	})
	return x
}

func pairs(hs []dissect.Header) [][2]string {
	out := make([][2]string, len(hs))
	for i, h := range hs {
		out[i] = [2]string{h.Name, h.Value}
	}
	return out
}
