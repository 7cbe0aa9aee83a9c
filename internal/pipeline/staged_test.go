package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/internal/testutil"
)

// orderSink writes every event with all its fields, in the order the
// events came, and checks that a conversation keeps one ConvRef pointer.
type orderSink struct {
	t    *testing.T
	log  []string
	refs map[uint64]*dissect.ConvRef
	// strip leaves out what NoDigest and NoPayload change: the payload,
	// digest and truncation of data frames and messages.
	strip bool
}

func (s *orderSink) add(c *dissect.ConvRef, format string, args ...any) {
	if s.refs == nil {
		s.refs = map[uint64]*dissect.ConvRef{}
	}
	if p, ok := s.refs[c.ID]; ok && p != c {
		s.t.Errorf("conversation %d: a second ConvRef pointer", c.ID)
	}
	s.refs[c.ID] = c
	s.log = append(s.log, fmt.Sprintf("%d %s %s swapped=%v: ", c.ID, c.Client, c.Server, c.Swapped)+fmt.Sprintf(format, args...))
}

func (s *orderSink) Handshake(c *dissect.ConvRef, h *dissect.Handshake) {
	var resp dissect.Response
	if h.Response != nil {
		resp = *h.Response
	}
	hc := *h
	hc.Response = nil
	s.add(c, "handshake %+v response %v %+v deflate %s", hc, h.Response != nil, resp, deflateString(&hc))
}

func (s *orderSink) Frame(c *dissect.ConvRef, f *dissect.Frame) {
	g := *f
	g.Payload = nil
	if s.strip && !f.Opcode.IsControl() {
		g.PayloadTruncated = false
		s.add(c, "frame %+v", g)
		return
	}
	s.add(c, "frame %+v %x", g, f.Payload)
}

func (s *orderSink) Message(c *dissect.ConvRef, m *dissect.Message) {
	g := *m
	g.Payload = nil
	if s.strip && !m.Opcode.IsControl() {
		g.Truncated, g.SHA256 = false, [32]byte{}
		s.add(c, "message %+v", g)
		return
	}
	s.add(c, "message %+v %x", g, m.Payload)
}

func (s *orderSink) Violation(c *dissect.ConvRef, v *dissect.Violation) {
	s.add(c, "violation %+v", *v)
}

func (s *orderSink) Gap(c *dissect.ConvRef, g *dissect.Gap) { s.add(c, "gap %+v", *g) }

func (s *orderSink) End(c *dissect.ConvRef, sum *dissect.Summary) {
	var hs dissect.Handshake
	var resp dissect.Response
	if sum.Handshake != nil {
		hs = *sum.Handshake
		if hs.Response != nil {
			resp = *hs.Response
		}
		hs.Response = nil
	}
	g := *sum
	g.Handshake = nil
	s.add(c, "end %+v handshake %+v %+v deflate %s", g, hs, resp, deflateString(&hs))
	delete(s.refs, c.ID)
}

func runOrdered(t *testing.T, path string, cfg Config) ([]string, Stats) {
	return runOrderedStrip(t, path, cfg, false)
}

func runOrderedStrip(t *testing.T, path string, cfg Config, strip bool) ([]string, Stats) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink := &orderSink{t: t, strip: strip}
	st, err := Run(context.Background(), src, cfg, sink)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return sink.log, st
}

// TestStagedSameEvents runs every capture with one goroutine and with the
// staged pipeline, with batches of the normal size and tiny ones (so that
// every batch boundary is crossed): the sink must get the same events, in
// the same order, with the same fields, and the same counts.
func TestStagedSameEvents(t *testing.T) {
	files := testutil.SharedCaptures(t)
	own, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", "*.pcap*"))
	hix, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", "hixie", "*.pcap*"))
	files = append(files, own...)
	files = append(files, hix...)
	bulk := filepath.Join(t.TempDir(), "bulk.pcap")
	writeBulkFile(t, bulk, pcaptest.BulkOptions{Size: 3 << 20, Conns: 40, Seed: 7})
	files = append(files, bulk)

	cfg := Config{Dissect: dissect.DefaultConfig()}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want, wantSt := runOrdered(t, path, cfg)
			if len(want) == 0 {
				t.Fatal("no events at all")
			}
			for _, run := range []struct {
				tiny       bool
				dissectors int
			}{{false, 1}, {false, 2}, {false, 4}, {true, 1}, {true, 2}} {
				tiny := run.tiny
				if tiny {
					setTinyBatches(t)
				}
				c := cfg
				c.Dissectors = run.dissectors
				got, gotSt := runOrdered(t, path, c)
				if !reflect.DeepEqual(gotSt, wantSt) {
					t.Errorf("tiny=%v dissectors=%d: stats differ:\n got %+v\nwant %+v", tiny, run.dissectors, gotSt, wantSt)
				}
				if len(got) != len(want) {
					t.Errorf("tiny=%v dissectors=%d: %d events, want %d", tiny, run.dissectors, len(got), len(want))
				}
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("tiny=%v dissectors=%d: event %d differs:\n got %s\nwant %s", tiny, run.dissectors, i, got[i], want[i])
					}
				}
			}
		})
	}
}

func setTinyBatches(t *testing.T) {
	a, b, c, d := streamBatchBytes, streamBatchRecs, evBatchBytes, evBatchEvents
	streamBatchBytes, streamBatchRecs, evBatchBytes, evBatchEvents = 100, 3, 50, 2
	t.Cleanup(func() { streamBatchBytes, streamBatchRecs, evBatchBytes, evBatchEvents = a, b, c, d })
}

// deflateString prints h.Deflate and takes the pointer out of h.
func deflateString(h *dissect.Handshake) string {
	d := h.Deflate
	h.Deflate = nil
	if d == nil {
		return "none"
	}
	return fmt.Sprintf("%+v", *d)
}

// TestNoDigestNoPayload: leaving out digests and payload bytes changes
// nothing else in any event, and they are really left out.
func TestNoDigestNoPayload(t *testing.T) {
	files := testutil.SharedCaptures(t)
	own, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", "*.pcap*"))
	files = append(files, own...)
	cfg := Config{Dissect: dissect.DefaultConfig()}
	lean := cfg
	lean.Dissect.NoDigest, lean.Dissect.NoPayload = true, true
	var withPayload int
	for _, path := range files {
		want, _ := runOrderedStrip(t, path, cfg, true)
		got, _ := runOrderedStrip(t, path, lean, true)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: events differ with NoDigest and NoPayload", filepath.Base(path))
		}
		rec, _ := runFile(t, path, lean)
		for _, c := range rec.convs {
			for _, m := range c.messages {
				if m.Opcode.IsControl() {
					continue
				}
				if len(m.Payload) > 0 || m.SHA256 != [32]byte{} {
					withPayload++
				}
			}
			for _, f := range c.frames {
				if !f.Opcode.IsControl() && len(f.Payload) > 0 {
					withPayload++
				}
			}
		}
	}
	if withPayload > 0 {
		t.Errorf("%d data frames or messages kept a payload or digest", withPayload)
	}
}

// TestLateDigestSameEvents: digests computed by the owner from the kept
// payload (Config.LateDigest), in one goroutine or in the output stage,
// are those the dissector computes as it goes.
func TestLateDigestSameEvents(t *testing.T) {
	files := testutil.SharedCaptures(t)
	own, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", "*.pcap*"))
	files = append(files, own...)
	bulk := filepath.Join(t.TempDir(), "bulk.pcap")
	writeBulkFile(t, bulk, pcaptest.BulkOptions{Size: 2 << 20, Conns: 20, Seed: 5})
	files = append(files, bulk)
	for _, maxPayload := range []int{64 << 10, 100, 0} {
		cfg := Config{Dissect: dissect.DefaultConfig()}
		cfg.Dissect.MaxPayload = maxPayload
		late := cfg
		late.Dissect.LateDigest = true
		for _, path := range files {
			want, _ := runOrdered(t, path, cfg)
			for _, dissectors := range []int{0, 1} {
				late.Dissectors = dissectors
				got, _ := runOrdered(t, path, late)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s, max payload %d, %d dissectors: events differ with LateDigest", filepath.Base(path), maxPayload, dissectors)
				}
			}
		}
	}
}

// TestLateDigestNoDigest: a run that wants no digests (NoDigest) computes
// none, in one goroutine or staged, even for the messages LateDigest
// leaves to the pipeline (the text output keeps payloads and shows no
// digest).
func TestLateDigestNoDigest(t *testing.T) {
	bulk := filepath.Join(t.TempDir(), "bulk.pcap")
	writeBulkFile(t, bulk, pcaptest.BulkOptions{Size: 1 << 20, Conns: 10, Seed: 6})
	for _, dissectors := range []int{0, 2} {
		cfg := Config{Dissect: dissect.DefaultConfig(), Dissectors: dissectors}
		cfg.Dissect.NoDigest, cfg.Dissect.LateDigest = true, true
		rec, _ := runFile(t, bulk, cfg)
		var whole, digests int
		for _, c := range rec.convs {
			for _, m := range c.messages {
				if m.Opcode.IsControl() {
					continue
				}
				if len(m.Payload) > 0 && uint64(len(m.Payload)) == m.Length {
					whole++
				}
				if m.SHA256 != [32]byte{} {
					digests++
				}
			}
		}
		if whole == 0 || digests > 0 {
			t.Errorf("%d dissectors: %d messages kept whole, %d with a digest; want some, and none", dissectors, whole, digests)
		}
	}
}
