package tui

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/internal/pipeline"
	"github.com/wsdump/wsdump/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// testOptions are model options that make views reproducible.
func testOptions() Options {
	return Options{Source: "test.pcap", Location: time.UTC}
}

// loadCapture runs a capture of testdata/pcaps through the pipeline into a
// Feed and returns a model holding everything, sized w x h.
func loadCapture(t testing.TB, name string, o Options, w, h int) *Model {
	t.Helper()
	path := filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", name)
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f := NewFeed(FeedOptions{Progress: func() Progress { return Progress{Packets: 22, BytesRead: 100, Size: 100} }})
	pc := pipeline.Config{Dissect: dissect.DefaultConfig()}
	if _, err := pipeline.Run(context.Background(), src, pc, f); err != nil {
		t.Fatal(err)
	}
	f.Close(nil, "")
	m := NewModel(nil, o)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	b := f.take()
	b.wall = t0
	m.apply(b)
	return m
}

// convFeeder drives one dissected conversation into a Feed.
type convFeeder struct {
	cfg  dissect.Config
	ref  dissect.ConvRef
	feed *Feed
	d    *dissect.Conversation
	now  time.Time
}

func newConvFeeder(f *Feed, id uint64) *convFeeder {
	c := &convFeeder{cfg: dissect.DefaultConfig(), feed: f, now: t0}
	c.ref = dissect.ConvRef{ID: id, Client: "192.0.2.1:40000", Server: "198.51.100.2:80"}
	c.d = dissect.NewConversation(&c.cfg, &c.ref, f, dissect.ConvOptions{})
	return c
}

// handshake sends an upgrade request and its response, with extra
// request header lines.
func (c *convFeeder) handshake(host, path string, extraReq []string, extraResp ...string) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	c.send(0, pcaptest.UpgradeRequest(host, path, key, extraReq...))
	c.send(1, pcaptest.UpgradeResponse(key, extraResp...))
}

func (c *convFeeder) send(side int, b []byte) {
	c.now = c.now.Add(time.Millisecond)
	c.d.Feed(side, b, c.now)
}

var maskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

func (c *convFeeder) client(op uint8, p []byte) { c.send(0, pcaptest.ClientFrame(op, p, maskKey)) }
func (c *convFeeder) server(op uint8, p []byte) { c.send(1, pcaptest.ServerFrame(op, p)) }

func (c *convFeeder) end() {
	s := c.d.End(dissect.EndFIN, c.now)
	c.feed.End(&c.ref, s)
}

// press sends one key to the model.
func press(m *Model, keys ...string) {
	for _, k := range keys {
		m.Update(keyMsg(k))
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+d":
		return tea.KeyPressMsg{Code: 'd', Mod: tea.ModCtrl}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// typeText types s into the model one key at a time.
func typeText(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

var sgr = regexp.MustCompile("\x1b\\[[0-9;:]*m")

// stripSGR removes the colour and attribute sequences Lip Gloss writes.
func stripSGR(s string) string { return sgr.ReplaceAllString(s, "") }

func readGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("view differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
