package tui

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/wsdump/wsdump/dissect"
)

func TestGoldenViews(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		keys []string
	}{
		// Following: the last message (the server's close) is selected.
		{"demo-80x24.golden", 80, 24, nil},
		// The first message opened in the payload view.
		{"demo-160x48.golden", 160, 48, []string{"tab", "g", "enter"}},
		// The binary message as a hex dump, relative times.
		{"demo-hex-80x24.golden", 80, 24, []string{"tab", "g", "j", "j", "t", "enter"}},
		// The handshake view.
		{"demo-handshake-80x24.golden", 80, 24, []string{"tab", "h", "tab"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := loadCapture(t, "ws-ethernet-ipv4.pcap", testOptions(), tc.w, tc.h)
			press(m, tc.keys...)
			got := m.Render()
			if strings.Contains(got, "\x1b") {
				t.Fatal("colours are off but the view holds an escape sequence")
			}
			lines := strings.Split(got, "\n")
			if len(lines) != tc.h {
				t.Errorf("view has %d lines, want %d", len(lines), tc.h)
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w != tc.w {
					t.Errorf("line %d is %d cells wide, want %d: %q", i, w, tc.w, l)
				}
			}
			readGolden(t, tc.name, got)
		})
	}
}

func TestLoadedCaptureCounts(t *testing.T) {
	m := loadCapture(t, "ws-mixed-ethernet-sll.pcapng", testOptions(), 100, 30)
	if len(m.convs) != 2 {
		t.Fatalf("got %d conversations, want 2", len(m.convs))
	}
	for _, c := range m.convs {
		// README: client text, ping, text in two frames, binary 2000, close;
		// server text, binary 300, pong, close.
		if c.msgs != [2]uint64{5, 4} {
			t.Errorf("conversation %d: messages %v, want [5 4]", c.num, c.msgs)
		}
		if want := [2]uint64{13 + 14 + 18 + 2000 + 5, 13 + 300 + 14 + 5}; c.bytes != want {
			t.Errorf("conversation %d: bytes %v, want %v", c.num, c.bytes, want)
		}
		if c.state() != "clean" {
			t.Errorf("conversation %d: state %q, want clean", c.num, c.state())
		}
		if c.hostPath() == "" || !strings.HasSuffix(c.hostPath(), "/chat") {
			t.Errorf("conversation %d: host/path %q", c.num, c.hostPath())
		}
	}
	v := m.Render()
	for _, want := range []string{"10.0.0.1:40000 → 10.0.0.2:8080", "fragmented message", "Conversations (2)", "44 pkts"[:0] + "22 pkts"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}

func TestNavigationKeys(t *testing.T) {
	m := loadCapture(t, "ws-mixed-ethernet-sll.pcapng", testOptions(), 100, 30)
	if m.cur != 0 || m.focus != paneConvs {
		t.Fatalf("start: conversation %d, pane %d", m.cur, m.focus)
	}
	press(m, "j")
	if m.cur != 1 {
		t.Errorf("j: conversation %d, want 1", m.cur)
	}
	press(m, "j") // at the end already
	if m.cur != 1 {
		t.Errorf("j at the end: conversation %d, want 1", m.cur)
	}
	press(m, "k")
	if m.cur != 0 {
		t.Errorf("k: conversation %d, want 0", m.cur)
	}
	press(m, "enter")
	if m.focus != paneTimeline {
		t.Fatalf("enter: pane %d, want the timeline", m.focus)
	}
	if m.sel != len(m.vis)-1 || len(m.vis) != 9 {
		t.Errorf("following: selection %d of %d, want the last of 9", m.sel, len(m.vis))
	}
	press(m, "g")
	if m.sel != 0 {
		t.Errorf("g: selection %d, want 0", m.sel)
	}
	if m.follow {
		t.Error("moving up did not stop following")
	}
	press(m, "down", "j")
	if m.sel != 2 {
		t.Errorf("down j: selection %d, want 2", m.sel)
	}
	if e := m.selectedEntry(); e == nil || e.msg.Opcode != dissect.OpBinary || e.msg.Length != 300 {
		t.Errorf("selected %+v, want the 300-byte binary message", e)
	}
	press(m, "G")
	if m.sel != 8 {
		t.Errorf("G: selection %d, want 8", m.sel)
	}
	press(m, "ctrl+u")
	if want := 8 - m.paneRows(paneTimeline)/2; m.sel != want {
		t.Errorf("ctrl+u: selection %d, want %d", m.sel, want)
	}
	press(m, "ctrl+d")
	if m.sel != 8 {
		t.Errorf("ctrl+d: selection %d, want 8", m.sel)
	}
	press(m, "tab")
	if m.focus != paneDetail {
		t.Errorf("tab: pane %d, want the detail", m.focus)
	}
	press(m, "tab")
	if m.focus != paneConvs {
		t.Errorf("tab from the last pane: %d, want the list", m.focus)
	}
	press(m, "?")
	if !strings.Contains(m.Render(), "opcode filter") {
		t.Error("? did not show the help")
	}
	press(m, "j")
	if m.showHelp || m.cur != 0 {
		t.Error("a key did not just close the help")
	}
	if _, cmd := m.Update(keyMsg("q")); cmd == nil || cmd() != (tea.QuitMsg{}) {
		t.Error("q did not quit")
	}
	if _, cmd := m.Update(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}); cmd == nil || cmd() != (tea.QuitMsg{}) {
		t.Error("ctrl+c did not quit")
	}
}

func TestFilters(t *testing.T) {
	m := loadCapture(t, "ws-ethernet-ipv4.pcap", testOptions(), 100, 30)
	press(m, "enter")
	count := func() int { return len(m.vis) }
	if count() != 9 {
		t.Fatalf("no filter: %d entries, want 9", count())
	}
	press(m, "d") // client
	if count() != 5 {
		t.Errorf("client only: %d, want 5", count())
	}
	press(m, "d") // server
	if count() != 4 {
		t.Errorf("server only: %d, want 4", count())
	}
	press(m, "d") // all
	press(m, "o") // text
	if count() != 3 {
		t.Errorf("text only: %d, want 3", count())
	}
	press(m, "o") // binary
	if count() != 2 {
		t.Errorf("binary only: %d, want 2", count())
	}
	press(m, "o") // control
	if count() != 4 {
		t.Errorf("control only: %d, want 4 (ping, pong, 2 close)", count())
	}
	press(m, "o", "o") // violations, all
	if count() != 9 {
		t.Errorf("back to all: %d, want 9", count())
	}

	press(m, "/")
	typeText(m, "Hello")
	if count() != 2 || !strings.Contains(m.Render(), "2 match(es)") {
		t.Errorf("/Hello: %d entries; footer %q", count(), m.footer(100))
	}
	typeText(m, ", c")
	if count() != 1 {
		t.Errorf("/Hello, c: %d, want 1", count())
	}
	press(m, "backspace", "backspace", "backspace")
	if count() != 2 {
		t.Errorf("after backspaces: %d, want 2", count())
	}
	press(m, "esc")
	if count() != 9 || m.query != "" {
		t.Errorf("esc: %d entries, query %q", count(), m.query)
	}
	press(m, "/")
	typeText(m, "re:^(are|frag)")
	if count() != 3 {
		t.Errorf("regex: %d, want 3 (ping, pong, fragmented)", count())
	}
	typeText(m, "(")
	if m.reErr == "" || !strings.Contains(m.Render(), "invalid regex") {
		t.Errorf("invalid regex not reported: %q", m.footer(100))
	}
	if count() != 9 {
		t.Errorf("an invalid regex filtered: %d, want 9", count())
	}
	press(m, "backspace", "enter")
	if m.searching || count() != 3 {
		t.Errorf("enter: searching %v, %d entries", m.searching, count())
	}
	// Keys go back to navigation after enter.
	press(m, "G")
	if m.sel != 2 {
		t.Errorf("G after the search: %d", m.sel)
	}
}

func TestEscapesNeverReachTheTerminal(t *testing.T) {
	const evil = "a\x1b]52;c;ZXZpbA==\x07b\x1b[2Jc\x9b31md\u202ee"
	for _, colour := range []bool{false, true} {
		f := NewFeed(FeedOptions{})
		c := newConvFeeder(f, 1)
		c.handshake("h.example", "/p", nil)
		c.client(1, []byte(evil))
		c.server(2, []byte(evil))
		js, _ := json.Marshal(map[string]string{"k\x1b": "a\x1b]52\u202e"})
		c.client(1, js)
		c.client(8, append([]byte{0x03, 0xe8}, "bye\x1b[2J"...))
		c.server(1, []byte{0xff, 0x1b, '['}) // invalid UTF-8: a violation
		f.Close(nil, "")
		// The HTTP parser refuses control characters in the request line;
		// the interface must still be safe if a header, host or
		// subprotocol carries one.
		b := f.take()
		hs := *b.recs[0].hs
		hs.Host = "evil\x1b[2J.example"
		hs.Request.URI = "/p\x1b]0;title\x07ath"
		hs.Subprotocol = "chat\x1b[5m"
		hs.Request.Headers = append(hs.Request.Headers, dissect.Header{Name: "X-\x1b[1m", Value: "\x1b]52;c;aGk=\x07"})
		b.recs[0].hs = &hs
		b.recs[0].client = "10.0.0.1:1\x1b[2J"
		b.recs = append(b.recs, record{kind: recViolation, conv: 1, vio: &dissect.Violation{Code: "x\x1b[2J", Detail: "d\x9b2J", Time: t0}})
		o := testOptions()
		o.Color = colour
		o.Source = "x\x1b[2J.pcap"
		m := NewModel(nil, o)
		m.Update(tea.WindowSizeMsg{Width: 230, Height: 40})
		m.apply(b)
		var views []string
		views = append(views, m.Render())
		press(m, "tab", "g")
		for i := 0; i < 7; i++ {
			views = append(views, m.Render())
			press(m, "v")
			views = append(views, m.Render())
			press(m, "v")
			views = append(views, m.Render())
			press(m, "v", "j")
		}
		press(m, "/")
		typeText(m, "\x1b[2J")
		views = append(views, m.Render())
		for i, v := range views {
			if !colour && strings.Contains(v, "\x1b") {
				t.Fatalf("view %d without colours holds an escape:\n%q", i, v)
			}
			if s := stripSGR(v); strings.ContainsAny(s, "\x1b\x07\x9b\u202e") {
				t.Fatalf("view %d (colour %v) holds a control character from the wire:\n%q", i, colour, s)
			}
		}
		all := strings.Join(views, "\n")
		for _, want := range []string{`a\e]52;c;ZXZpbA==\x07b\e[2Jc`, `evil\e[2J.example`, `GET /p\e]0;title\x07ath HTTP/1.1`, `chat\e[5m`, `bye\e[2J`, `X-\e[1m: \e]52;c;aGk=\x07`, `10.0.0.1:1\e[2J`, `x\e[2J: d\x9b2J`, `"k\u001b": "a\u001b]52\u{202e}"`} {
			if !strings.Contains(stripSGR(all), want) {
				t.Errorf("colour %v: no escaped form %q in the views", colour, want)
			}
		}
	}
}

func TestJSONPayloadPretty(t *testing.T) {
	f := NewFeed(FeedOptions{})
	c := newConvFeeder(f, 1)
	c.handshake("h", "/", nil)
	c.server(1, []byte(`{"type":"tick","seq":42,"ok":true,"list":[1,null]}`))
	m := NewModel(nil, testOptions())
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 30})
	m.apply(f.take())
	v := m.Render()
	for _, want := range []string{"JSON", `  "type": "tick",`, `  "seq": 42,`, `    null`} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	// With colours, keys and values are coloured differently; the text
	// without the colours is the same.
	o := testOptions()
	o.Color = true
	mc := NewModel(nil, o)
	mc.Update(tea.WindowSizeMsg{Width: 80, Height: 30})
	f2 := NewFeed(FeedOptions{})
	c2 := newConvFeeder(f2, 1)
	c2.handshake("h", "/", nil)
	c2.server(1, []byte(`{"type":"tick","seq":42,"ok":true,"list":[1,null]}`))
	mc.apply(f2.take())
	cv := mc.Render()
	if !strings.Contains(cv, "\x1b[") {
		t.Fatal("colours on but no SGR sequence")
	}
	key := mc.st.jsonKey.r(`"type"`)
	val := mc.st.jsonString.r(`"tick"`)
	if key == val[:0] || !strings.Contains(cv, key) || !strings.Contains(cv, val) {
		t.Errorf("JSON key and string not coloured as expected")
	}
	if stripSGR(cv) == cv {
		t.Error("stripping changed nothing")
	}
}

func TestBackgroundDetection(t *testing.T) {
	o := testOptions()
	o.Color = true
	m := loadCapture(t, "ws-ethernet-ipv4.pcap", o, 80, 24)
	dark := m.Render()
	m.Update(tea.BackgroundColorMsg{Color: color.White})
	if m.dark {
		t.Fatal("a white background was taken for a dark one")
	}
	light := m.Render()
	if dark == light {
		t.Error("the view did not change for a light background")
	}
	if stripSGR(dark) != stripSGR(light) {
		t.Error("the background changed the text, not only its colours")
	}
	m.Update(tea.BackgroundColorMsg{Color: color.Black})
	if !m.dark || m.Render() != dark {
		t.Error("back to a dark background did not give the dark view")
	}
}

func TestBodiesBoundedCountsExact(t *testing.T) {
	f := NewFeed(FeedOptions{MaxBody: 8})
	c := newConvFeeder(f, 1)
	c.handshake("h", "/", nil)
	for i := 0; i < 10; i++ {
		c.client(1, []byte(fmt.Sprintf("message number %d", i)))
	}
	o := testOptions()
	o.MaxBodies = 3
	m := NewModel(nil, o)
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 40})
	m.apply(f.take())
	cv := m.convs[0]
	if cv.msgs[0] != 10 || cv.bytes[0] != 10*16 {
		t.Errorf("counts %d msgs %d bytes, want 10 and 160", cv.msgs[0], cv.bytes[0])
	}
	kept := 0
	for i := 0; i < cv.count(); i++ {
		e := cv.entryAt(uint64(i))
		if e.msg.Body != nil {
			kept++
			if i < 7 {
				t.Errorf("entry %d kept its body; only the newest 3 should", i)
			}
			if len(e.msg.Body) != 8 || !e.msg.Truncated {
				t.Errorf("entry %d body %q (truncated %v), want 8 bytes cut", i, e.msg.Body, e.msg.Truncated)
			}
		} else if !e.bodyDropped {
			t.Errorf("entry %d lost its body without the marker", i)
		}
	}
	if kept != 3 {
		t.Errorf("%d bodies kept, want 3", kept)
	}
	v := m.Render()
	if strings.Count(v, "[body dropped]") != 7 || !strings.Contains(v, "message  …") {
		t.Errorf("view:\n%s", v)
	}
}

func TestEntriesBounded(t *testing.T) {
	f := NewFeed(FeedOptions{MaxBatch: 100000})
	c := newConvFeeder(f, 1)
	c.handshake("h", "/", nil)
	const n = 5 * blockSize
	for i := 0; i < n; i++ {
		c.server(1, []byte(fmt.Sprint(i)))
	}
	o := testOptions()
	o.MaxEntries = blockSize + 100
	m := NewModel(nil, o)
	m.apply(f.take())
	cv := m.convs[0]
	// Whole blocks go: between MaxEntries and MaxEntries+blockSize stay.
	if cv.count() < o.MaxEntries || cv.count() >= o.MaxEntries+blockSize || cv.msgs[1] != n {
		t.Fatalf("%d entries kept, %d counted", cv.count(), cv.msgs[1])
	}
	if cv.trimmed+uint64(cv.count()) != n || cv.trimmed%blockSize != 0 {
		t.Errorf("trimmed %d + kept %d != %d", cv.trimmed, cv.count(), n)
	}
	if first := cv.entryAt(cv.firstSeq); first.msg.Index != cv.trimmed {
		t.Errorf("first entry kept is message %d, want %d", first.msg.Index, cv.trimmed)
	}
	if cv.entryAt(cv.firstSeq-1) != nil {
		t.Error("a trimmed entry is still reachable")
	}
	last := cv.entryAt(cv.nextSeq - 1)
	if string(last.msg.Body) != fmt.Sprint(n-1) {
		t.Errorf("last entry %q", last.msg.Body)
	}
	if len(m.vis) != cv.count() || m.vis[0] != cv.firstSeq {
		t.Errorf("vis has %d entries from %d; conversation %d from %d", len(m.vis), m.vis[0], cv.count(), cv.firstSeq)
	}
	if !strings.Contains(m.timelineTitle(), fmt.Sprintf("%d oldest not kept", cv.trimmed)) {
		t.Errorf("title %q", m.timelineTitle())
	}
}

func TestFeedDropsWhenBehindAndKeepsCounts(t *testing.T) {
	f := NewFeed(FeedOptions{MaxBatch: 5})
	// The program is behind: the channel is full.
	for len(f.ch) < cap(f.ch) {
		f.ch <- &batch{}
	}
	c := newConvFeeder(f, 7)
	c.handshake("h", "/", nil) // 1 record
	for i := 0; i < 20; i++ {
		c.client(1, []byte("0123456789"))
	}
	c.end()
	if f.Dropped() != 16 {
		t.Errorf("dropped %d, want 16 (20 messages, 4 fit after the handshake)", f.Dropped())
	}
	m := NewModel(nil, testOptions())
	m.apply(f.take())
	cv := m.byID[7]
	if cv == nil {
		t.Fatal("no conversation")
	}
	if cv.msgs[0] != 20 || cv.bytes[0] != 200 {
		t.Errorf("counts %d/%d, want 20 messages, 200 bytes", cv.msgs[0], cv.bytes[0])
	}
	if cv.count() != 4 {
		t.Errorf("%d entries, want 4", cv.count())
	}
	if cv.state() != "abnormal" {
		t.Errorf("state %q, want abnormal (ended without close frames)", cv.state())
	}
	if !strings.Contains(m.statusBar(120), "16 drops") {
		t.Errorf("status bar %q", m.statusBar(120))
	}
}

func TestFeedNeverBlocks(t *testing.T) {
	f := NewFeed(FeedOptions{Interval: time.Millisecond, MaxBatch: 1000})
	f.Start()
	defer f.Stop()
	c := newConvFeeder(f, 1)
	c.handshake("h", "/", nil)
	done := make(chan struct{})
	go func() {
		for i := 0; i < 100000; i++ {
			c.client(1, []byte("x"))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the pipeline side blocked with nobody reading")
	}
	// At most the channel's 4 batches and the one being filled hold events.
	if d := f.Dropped(); d < 100001-5*1000 {
		t.Errorf("dropped %d, want at least %d", d, 100001-5*1000)
	}
}

func TestProgramReceivesBatches(t *testing.T) {
	f := NewFeed(FeedOptions{Interval: time.Millisecond})
	m := NewModel(f, testOptions())
	cmd := m.Init()
	if cmd == nil {
		t.Fatal("no command to wait for batches")
	}
	f.Start()
	defer f.Stop()
	c := newConvFeeder(f, 1)
	c.handshake("h", "/", nil)
	c.client(1, []byte("hi"))
	f.Close(nil, "all read")
	w := m.wait() // already waiting: no second reader
	if w != nil {
		t.Fatal("a second command waits on the channel")
	}
	deadline := time.After(10 * time.Second)
	for !m.done {
		m.waiting = false
		cmdc := make(chan tea.Msg, 1)
		go func() { cmdc <- m.wait()() }()
		select {
		case msg := <-cmdc:
			m.Update(msg)
		case <-deadline:
			t.Fatal("no final batch")
		}
	}
	if m.totalMsgs != 1 || len(m.convs) != 1 {
		t.Errorf("%d messages, %d conversations", m.totalMsgs, len(m.convs))
	}
}

func TestPauseHoldsBatches(t *testing.T) {
	f := NewFeed(FeedOptions{})
	c := newConvFeeder(f, 1)
	c.handshake("h", "/", nil)
	c.client(1, []byte("one"))
	m := NewModel(nil, testOptions())
	m.Update(batchMsg{f.take()})
	press(m, "space")
	c.client(1, []byte("two"))
	m.Update(batchMsg{f.take()})
	if m.totalMsgs != 1 || len(m.held) != 1 || !strings.Contains(m.statusBar(120), "PAUSED (1 held)") {
		t.Errorf("paused: %d messages shown, %d held, %q", m.totalMsgs, len(m.held), m.statusBar(120))
	}
	press(m, "space")
	if m.totalMsgs != 2 || len(m.held) != 0 {
		t.Errorf("resumed: %d messages, %d held", m.totalMsgs, len(m.held))
	}
	if e := m.selectedEntry(); e == nil || string(e.msg.Body) != "two" {
		t.Errorf("following did not select the new message")
	}
	press(m, "f")
	if m.follow {
		t.Error("f did not stop following")
	}
}

func TestProgressAndDone(t *testing.T) {
	m := NewModel(nil, testOptions())
	m.apply(&batch{prog: Progress{Packets: 10, BytesRead: 50 << 20, Size: 200 << 20}})
	if s := m.statusBar(120); !strings.Contains(s, "loading 25% (52.4M/209.7M)") || !strings.Contains(s, "10 pkts") {
		t.Errorf("status bar %q", s)
	}
	m.apply(&batch{done: true, err: fmt.Errorf("capture: damaged \x1b[2J")})
	if s := m.statusBar(120); !strings.Contains(s, `error: capture: damaged \e[2J`) {
		t.Errorf("status bar %q", s)
	}
}

func TestMouse(t *testing.T) {
	m := loadCapture(t, "ws-mixed-ethernet-sll.pcapng", testOptions(), 100, 30)
	l := m.layout()
	// Rows of the list start under its title and header.
	m.Update(tea.MouseClickMsg{X: 5, Y: l.convY + 3, Button: tea.MouseLeft})
	if m.cur != 1 || m.focus != paneConvs {
		t.Errorf("click on the second conversation: %d, pane %d", m.cur, m.focus)
	}
	m.Update(tea.MouseClickMsg{X: 5, Y: l.tlY + 2, Button: tea.MouseLeft})
	if m.focus != paneTimeline || m.sel != 1 {
		t.Errorf("click on the second message: selection %d, pane %d", m.sel, m.focus)
	}
	m.Update(tea.MouseWheelMsg{X: 5, Y: l.tlY + 2, Button: tea.MouseWheelDown})
	if m.sel != 4 {
		t.Errorf("wheel down: selection %d, want 4", m.sel)
	}
	m.Update(tea.MouseWheelMsg{X: 5, Y: l.convY + 2, Button: tea.MouseWheelUp})
	if m.cur != 0 || m.focus != paneTimeline {
		t.Errorf("wheel up on the list: conversation %d, focus %d", m.cur, m.focus)
	}
}

func TestResize(t *testing.T) {
	m := loadCapture(t, "ws-ethernet-ipv4.pcap", testOptions(), 80, 24)
	for _, sz := range [][2]int{{40, 10}, {200, 60}, {20, 8}, {1, 1}} {
		m.Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		v := m.Render()
		lines := strings.Split(v, "\n")
		wantH := max(sz[1], 8)
		if len(lines) != wantH {
			t.Errorf("%v: %d lines, want %d", sz, len(lines), wantH)
		}
		for i, l := range lines {
			if w := ansi.StringWidth(l); w != max(sz[0], 20) {
				t.Errorf("%v: line %d is %d wide", sz, i, w)
			}
		}
	}
}

func TestExport(t *testing.T) {
	dir := t.TempDir()
	o := testOptions()
	o.ExportDir = dir
	m := loadCapture(t, "ws-ethernet-ipv4.pcap", o, 100, 30)
	press(m, "e")
	path := filepath.Join(dir, "wsdump-conv-1.json")
	if !strings.Contains(m.footer(200), path) {
		t.Errorf("footer %q does not name %s", m.footer(200), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var x exportConv
	if err := json.Unmarshal(data, &x); err != nil {
		t.Fatal(err)
	}
	if x.Client != "192.0.2.10:50000" || x.Server != "198.51.100.20:80" || x.Path != "/chat" || x.State != "clean" {
		t.Errorf("export header %+v", x)
	}
	if x.Counts["client"].Messages != 5 || x.Counts["server"].Bytes != 332 {
		t.Errorf("counts %+v", x.Counts)
	}
	if len(x.Events) != 9 || x.Events[0].Text == nil || *x.Events[0].Text != "Hello, server" {
		t.Fatalf("events %+v", x.Events)
	}
	if b := x.Events[2].Base64; x.Events[2].Opcode != "binary" || len(b) != 300 || b[299] != byte(299%256) {
		t.Errorf("binary event %+v", x.Events[2])
	}
	if e := x.Events[8]; e.Opcode != "close" || e.CloseCode != 1000 || e.CloseReason != "bye" || e.Direction != "server" {
		t.Errorf("close event %+v", e)
	}
	if x.Request == nil || x.Request.Line != "GET /chat HTTP/1.1" || x.Response == nil || !strings.Contains(x.Response.Line, "101") {
		t.Errorf("handshake %+v %+v", x.Request, x.Response)
	}
}

// TestRandomInputNeverPanics drives models, empty and loaded, with a fixed
// random sequence of keys, clicks, wheel turns and sizes.
func TestRandomInputNeverPanics(t *testing.T) {
	keys := []string{"j", "k", "g", "G", "ctrl+d", "ctrl+u", "tab", "enter", "esc", "/", "x", "backspace",
		"d", "o", "f", "space", "t", "v", "h", "?", "up", "down", "(", "r", "e", ":", "["}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, loaded := range []bool{false, true} {
		var m *Model
		if loaded {
			m = loadCapture(t, "ws-mixed-ethernet-sll.pcapng", testOptions(), 80, 24)
		} else {
			m = NewModel(nil, testOptions())
		}
		m.opt.ExportDir = t.TempDir()
		for i := 0; i < 3000; i++ {
			switch r := rng.IntN(20); {
			case r == 0:
				m.Update(tea.WindowSizeMsg{Width: rng.IntN(200), Height: rng.IntN(60)})
			case r == 1:
				m.Update(tea.MouseClickMsg{X: rng.IntN(200), Y: rng.IntN(60), Button: tea.MouseLeft})
			case r == 2:
				m.Update(tea.MouseWheelMsg{X: rng.IntN(200), Y: rng.IntN(60), Button: tea.MouseWheelDown})
			default:
				k := keys[rng.IntN(len(keys))]
				if k == "e" && rng.IntN(10) != 0 {
					continue
				}
				m.Update(keyMsg(k))
			}
			v := m.Render()
			if strings.Contains(v, "\x1b") {
				t.Fatalf("step %d: escape in a colourless view", i)
			}
		}
	}
}

func TestShortConversationsStaySmall(t *testing.T) {
	f := NewFeed(FeedOptions{})
	for id := uint64(1); id <= 100; id++ {
		c := newConvFeeder(f, id)
		c.handshake("h", "/", nil)
		c.client(1, []byte("hi"))
		c.end()
	}
	m := NewModel(nil, testOptions())
	m.apply(f.take())
	if len(m.convs) != 100 {
		t.Fatalf("%d conversations", len(m.convs))
	}
	for _, c := range m.convs {
		if len(c.blocks) != 1 || cap(c.blocks[0]) > 8 {
			t.Fatalf("conversation %d holds %d blocks, the first of capacity %d", c.num, len(c.blocks), cap(c.blocks[0]))
		}
	}
}

func TestFeedFollowsSwappedRoles(t *testing.T) {
	f := NewFeed(FeedOptions{})
	ref := &dissect.ConvRef{ID: 3, Client: "10.0.0.1:80", Server: "10.0.0.2:5555"}
	f.Message(ref, &dissect.Message{Dir: dissect.FromClient, Opcode: dissect.OpText, Payload: []byte("a"), Length: 1, End: t0})
	// The dissector learns that the roles are the other way round.
	ref.Client, ref.Server, ref.Swapped = ref.Server, ref.Client, true
	f.Message(ref, &dissect.Message{Dir: dissect.FromServer, Opcode: dissect.OpText, Payload: []byte("b"), Length: 1, End: t0})
	b := f.take()
	if b.recs[0].client != "10.0.0.1:80" || b.recs[1].client != "10.0.0.2:5555" {
		t.Errorf("endpoints sent %q then %q", b.recs[0].client, b.recs[1].client)
	}
	m := NewModel(nil, testOptions())
	m.apply(b)
	if c := m.convs[0]; c.client != "10.0.0.2:5555" || c.server != "10.0.0.1:80" {
		t.Errorf("conversation shows %s -> %s", c.client, c.server)
	}
	// Endpoints are not sent again while the roles stay.
	f.Message(ref, &dissect.Message{Dir: dissect.FromServer, Opcode: dissect.OpText, Length: 1, End: t0})
	if r := f.take().recs[0]; r.client != "" {
		t.Errorf("endpoints sent again: %q", r.client)
	}
}

func TestFeedSendsFullBatchAtOnce(t *testing.T) {
	f := NewFeed(FeedOptions{MaxBatch: 5})
	c := newConvFeeder(f, 1)
	c.handshake("h", "/", nil)
	for i := 0; i < 11; i++ {
		c.client(1, []byte{'a' + byte(i)})
	}
	// 12 records: two full batches went without waiting for a tick.
	if len(f.ch) != 2 || f.Dropped() != 0 {
		t.Fatalf("%d batches sent, %d dropped", len(f.ch), f.Dropped())
	}
	m := NewModel(nil, testOptions())
	m.apply(<-f.ch)
	m.apply(<-f.ch)
	m.apply(f.take())
	cv := m.convs[0]
	if cv.msgs[0] != 11 || cv.count() != 11 {
		t.Fatalf("%d messages, %d entries", cv.msgs[0], cv.count())
	}
	for i := 0; i < 11; i++ {
		if e := cv.entryAt(uint64(i)); string(e.msg.Body) != string(rune('a'+i)) {
			t.Errorf("entry %d is %q: out of order", i, e.msg.Body)
		}
	}
}
