package tui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/wsdump/wsdump/dissect"
)

// bigModel returns a model holding one conversation of n messages with
// JSON bodies, the timeline focused on a message in the middle.
func bigModel(tb testing.TB, n int, colour bool) *Model {
	tb.Helper()
	o := testOptions()
	o.Color = colour
	m := NewModel(nil, o)
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	b := &batch{recs: make([]record, 0, n+1)}
	b.recs = append(b.recs, record{kind: recHandshake, conv: 1, client: "192.0.2.1:40000", server: "198.51.100.2:80",
		hs: &handshakeInfo{Protocol: dissect.ProtoRFC6455, Host: "example.com", Request: dissect.Request{Method: "GET", URI: "/feed", Version: "HTTP/1.1"}}})
	for i := 0; i < n; i++ {
		body := []byte(fmt.Sprintf(`{"seq":%d,"price":%d.25,"side":"buy"}`, i, 100+i%50))
		d := dissect.Direction(i % 2)
		ts := t0.Add(time.Duration(i) * time.Millisecond)
		b.recs = append(b.recs, record{kind: recMessage, conv: 1, msg: msgInfo{Dir: d, Index: uint64(i / 2), Opcode: dissect.OpText, Frames: 1,
			End: ts, Length: uint64(len(body)), WireLength: uint64(len(body) + 6), Body: body, ValidUTF8: true}})
	}
	m.apply(b)
	press(m, "enter")
	m.sel = n / 2
	m.follow = false
	m.clamp()
	return m
}

func TestBigConversation(t *testing.T) {
	m := bigModel(t, 100000, false)
	c := m.convs[0]
	if c.msgs != [2]uint64{50000, 50000} || len(m.vis) != 100000 {
		t.Fatalf("counts %v, %d visible", c.msgs, len(m.vis))
	}
	// Only the newest DefaultMaxBodies bodies are kept.
	if got := len(c.bodies) - c.bodyHead; got != DefaultMaxBodies {
		t.Errorf("%d bodies kept, want %d", got, DefaultMaxBodies)
	}
	press(m, "G")
	v := m.Render()
	if !strings.Contains(v, `"seq": 99999,`) {
		t.Errorf("the last message's JSON is not shown:\n%s", v)
	}
	press(m, "g")
	if v := m.Render(); !strings.Contains(v, "[body dropped]") {
		t.Errorf("the oldest message is not marked as dropped:\n%s", v)
	}
}

// BenchmarkKeyPress measures Update and View for one key press in a
// conversation of 100 000 messages: moving the selection, which also
// renders the payload of the newly selected message.
func BenchmarkKeyPress(b *testing.B) {
	for _, colour := range []bool{false, true} {
		b.Run(fmt.Sprintf("colour=%v", colour), func(b *testing.B) {
			m := bigModel(b, 100000, colour)
			// Keep the selection among the messages that still have a body
			// so that the payload view has JSON to render.
			m.sel = 100000 - 500
			j, k := keyMsg("j"), keyMsg("k")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if i&1 == 0 {
					m.Update(j)
				} else {
					m.Update(k)
				}
				_ = m.View()
			}
		})
	}
}

// BenchmarkFilterKey measures the heaviest single key: a filter change,
// which rescans all 100 000 entries, and the view.
func BenchmarkFilterKey(b *testing.B) {
	m := bigModel(b, 100000, true)
	d := keyMsg("d")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Update(d)
		_ = m.View()
	}
}

// BenchmarkSearchKey measures one typed character of a regular expression
// search over 100 000 entries.
func BenchmarkSearchKey(b *testing.B) {
	m := bigModel(b, 100000, true)
	press(m, "/")
	typeText(m, "re:side\":\"bu")
	y, bs := keyMsg("y"), keyMsg("backspace")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i&1 == 0 {
			m.Update(y)
		} else {
			m.Update(bs)
		}
		_ = m.View()
	}
}

// BenchmarkApplyBatch measures how fast the program takes in a batch of
// 5000 messages (about what a busy capture yields in one 50 ms tick).
func BenchmarkApplyBatch(b *testing.B) {
	const n = 5000
	o := testOptions()
	o.MaxEntries = 200000
	m := NewModel(nil, o)
	m.Update(tea.WindowSizeMsg{Width: 160, Height: 48})
	body := []byte(`{"seq":1,"price":100.25,"side":"buy"}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt := &batch{recs: make([]record, n)}
		for j := range bt.recs {
			bt.recs[j] = record{kind: recMessage, conv: 1, msg: msgInfo{Dir: dissect.FromServer, Opcode: dissect.OpText,
				Frames: 1, End: t0, Length: uint64(len(body)), Body: append([]byte(nil), body...), ValidUTF8: true}}
		}
		m.apply(bt)
		_ = m.View()
	}
}
