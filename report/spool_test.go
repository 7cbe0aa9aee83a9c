package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/testutil"
)

// synthetic is what the JSON report and the HAR wrote for feedInterleaved.
type synthetic struct {
	json, har             []byte
	jsonSpills, harSpills int
	jsonBroken, harBroken error
}

func runSynthetic(t *testing.T, budget, n, msgs, size int) synthetic {
	t.Helper()
	var jb, hb bytes.Buffer
	gen := Generator{Name: "wsdump", Version: "test"}
	j := NewJSON(&jb, JSONOptions{Generator: gen, MemoryBudget: budget, AllConversations: true})
	h := NewHAR(&hb, HAROptions{Creator: gen, MemoryBudget: budget})
	feedInterleaved(Multi(j, h), n, msgs, size)
	if j.sp.mem != 0 || h.sp.mem != 0 || len(j.sp.resident) != 0 || len(h.sp.resident) != 0 {
		t.Errorf("with every conversation ended, %d and %d bytes of buffers are still counted, %d and %d lists resident",
			j.sp.mem, h.sp.mem, len(j.sp.resident), len(h.sp.resident))
	}
	if err := j.Close(CaptureStats{}); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if j.sp.f != nil || h.sp.f != nil {
		t.Error("the spool files are still open after Close")
	}
	return synthetic{json: jb.Bytes(), har: hb.Bytes(), jsonSpills: j.sp.spills, harSpills: h.sp.spills,
		jsonBroken: j.sp.broken, harBroken: h.sp.broken}
}

// syntheticDoc is the part of the JSON report and the HAR the tests count.
type syntheticDoc struct {
	Conversations []struct {
		ID         uint64            `json:"id"`
		Messages   []json.RawMessage `json:"messages"`
		Dropped    *uint64           `json:"messages_dropped"`
		Violations []json.RawMessage `json:"violations"`
		Gaps       []json.RawMessage `json:"gaps"`
	} `json:"conversations"`
	Log struct {
		Entries []struct {
			Connection string            `json:"connection"`
			Messages   []json.RawMessage `json:"_webSocketMessages"`
			Dropped    uint64            `json:"_messagesDropped"`
		} `json:"entries"`
	} `json:"log"`
}

func parseSynthetic(t *testing.T, b []byte) *syntheticDoc {
	t.Helper()
	if !json.Valid(b) {
		t.Fatalf("not valid JSON:\n%.2000s", b)
	}
	var d syntheticDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return &d
}

// TestSpoolTinyBudgetMatchesHuge writes interleaved conversations with a
// budget so small that everything goes through the file (and one under
// the smallest buffer, so that every element is written to the file on
// its own) and with one so large that nothing does: the documents are the
// same bytes, and every message is there.
func TestSpoolTinyBudgetMatchesHuge(t *testing.T) {
	const n, msgs, size = 12, 40, 300
	huge := runSynthetic(t, 1<<30, n, msgs, size)
	if huge.jsonSpills != 0 || huge.harSpills != 0 {
		t.Fatalf("with a 1 GiB budget the spool was spilled %d and %d times", huge.jsonSpills, huge.harSpills)
	}
	doc := parseSynthetic(t, huge.json)
	har := parseSynthetic(t, huge.har)
	if len(doc.Conversations) != n {
		t.Fatalf("%d conversations in the report; want %d", len(doc.Conversations), n)
	}
	for _, c := range doc.Conversations {
		if len(c.Messages) != msgs || c.Dropped == nil || *c.Dropped != 0 {
			t.Errorf("conversation %d: %d messages, messages_dropped %v; want %d and 0", c.ID, len(c.Messages), c.Dropped, msgs)
		}
		if len(c.Violations) == 0 || len(c.Gaps) == 0 {
			t.Errorf("conversation %d: %d violations and %d gaps; want some of each", c.ID, len(c.Violations), len(c.Gaps))
		}
	}
	upgraded := 0
	for _, e := range har.Log.Entries {
		if e.Messages == nil {
			continue
		}
		upgraded++
		if len(e.Messages) != msgs*3/4 || e.Dropped != 0 {
			t.Errorf("HAR entry of connection %s: %d messages, %d dropped; want %d and 0", e.Connection, len(e.Messages), e.Dropped, msgs*3/4)
		}
	}
	if upgraded != 6 { // conversations 0, 1, 5, 6, 10 and 11 are upgraded
		t.Errorf("%d HAR entries with messages; want 6", upgraded)
	}
	for _, budget := range []int{1 << 10, 1} {
		tiny := runSynthetic(t, budget, n, msgs, size)
		if tiny.jsonSpills == 0 && budget >= minBuffer {
			t.Errorf("budget %d: the JSON report never spilled", budget)
		}
		if tiny.jsonBroken != nil || tiny.harBroken != nil {
			t.Fatalf("budget %d: spool failed: %v, %v", budget, tiny.jsonBroken, tiny.harBroken)
		}
		if !bytes.Equal(tiny.json, huge.json) {
			t.Errorf("budget %d: the JSON report differs from the one written without spilling:\n%s\nwant:\n%s", budget, tiny.json, huge.json)
		}
		if !bytes.Equal(tiny.har, huge.har) {
			t.Errorf("budget %d: the HAR differs from the one written without spilling:\n%s\nwant:\n%s", budget, tiny.har, huge.har)
		}
	}
}

// TestSpoolUnwritableDropsAndCounts runs the writers with a tiny budget
// where the spool file cannot be made (the temporary directory does not
// exist) or written (/dev/full, "no space left on device"): the documents
// are still valid, the messages that did not fit are counted as dropped,
// and those kept are the conversations' messages in order.
func TestSpoolUnwritableDropsAndCounts(t *testing.T) {
	const n, msgs, size = 12, 40, 300
	want := parseSynthetic(t, runSynthetic(t, 1<<30, n, msgs, size).json)
	check := func(t *testing.T, got synthetic) {
		if got.jsonBroken == nil || got.harBroken == nil {
			t.Errorf("the spools did not fail: %v, %v", got.jsonBroken, got.harBroken)
		}
		doc := parseSynthetic(t, got.json)
		har := parseSynthetic(t, got.har)
		var dropped, harDropped uint64
		for i, c := range doc.Conversations {
			if c.Dropped == nil || uint64(len(c.Messages))+*c.Dropped != msgs {
				t.Errorf("conversation %d: %d messages kept, %v dropped; want %d in all", c.ID, len(c.Messages), c.Dropped, msgs)
				continue
			}
			dropped += *c.Dropped
			// The kept messages are some of the conversation's, in order.
			k := 0
			for _, m := range want.Conversations[i].Messages {
				if k < len(c.Messages) && bytes.Equal(m, c.Messages[k]) {
					k++
				}
			}
			if k != len(c.Messages) {
				t.Errorf("conversation %d: the kept messages are not a subsequence of its messages", c.ID)
			}
		}
		for _, e := range har.Log.Entries {
			if e.Messages != nil && uint64(len(e.Messages))+e.Dropped != msgs*3/4 {
				t.Errorf("HAR entry of connection %s: %d kept, %d dropped; want %d in all", e.Connection, len(e.Messages), e.Dropped, msgs*3/4)
			}
			harDropped += e.Dropped
		}
		if dropped == 0 || harDropped == 0 {
			t.Errorf("%d messages dropped from the report, %d from the HAR; want some from each with a 1 KiB budget", dropped, harDropped)
		}
		t.Logf("dropped %d of %d messages from the report, %d from the HAR", dropped, n*msgs, harDropped)
	}
	t.Run("no directory", func(t *testing.T) {
		t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "missing"))
		check(t, runSynthetic(t, 1<<10, n, msgs, size))
	})
	t.Run("disk full", func(t *testing.T) {
		if _, err := os.Stat("/dev/full"); err != nil {
			t.Skip("no /dev/full on this system")
		}
		orig := createSpoolFile
		defer func() { createSpoolFile = orig }()
		createSpoolFile = func() (*os.File, error) { return os.OpenFile("/dev/full", os.O_RDWR, 0) }
		check(t, runSynthetic(t, 1<<10, n, msgs, size))
	})
}

// TestSpoolFileSpace checks that the spool file has no name in the
// temporary directory, that the space of a conversation written out is
// given back while others are open, and that the file is emptied when no
// conversation holds anything in it.
func TestSpoolFileSpace(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	var out bytes.Buffer
	j := NewJSON(&out, JSONOptions{MemoryBudget: 4 << 10})
	big := &dissect.ConvRef{ID: 1, Client: "10.0.0.1:1", Server: "10.0.0.2:80"}
	small := &dissect.ConvRef{ID: 2, Client: "10.0.0.3:1", Server: "10.0.0.2:80"}
	payload := bytes.Repeat([]byte("a"), 4000)
	for i := 0; i < 256; i++ {
		j.Message(big, &dissect.Message{Index: uint64(i), Opcode: dissect.OpText, Payload: payload, Length: 4000})
		if i%64 == 0 {
			j.Message(small, &dissect.Message{Index: uint64(i), Opcode: dissect.OpText, Payload: payload[:10], Length: 10})
		}
	}
	if j.sp.f == nil {
		t.Fatal("1 MB of messages with a 4 KiB budget made no spool file")
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Errorf("the temporary directory holds %v (%v); want nothing", ents, err)
	}
	fi, err := j.sp.f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() < 1<<20 {
		t.Fatalf("spool file of %d bytes after 1 MB of messages", fi.Size())
	}
	sum := &dissect.Summary{IsWebSocket: true, Protocol: dissect.ProtoRFC6455}
	j.End(big, sum)
	if used, ok := allocated(t, j.sp.f, dir); ok {
		if used > 64<<10 {
			t.Errorf("with one small conversation open, the spool file uses %d bytes of disk; want under 64 KiB", used)
		}
	}
	j.End(small, sum)
	if fi, err = j.sp.f.Stat(); err != nil || fi.Size() != 0 {
		t.Errorf("with no conversation open, the spool file is %d bytes long (%v); want 0", fi.Size(), err)
	}
	if err := j.Close(CaptureStats{}); err != nil {
		t.Fatal(err)
	}
	d := parseSynthetic(t, out.Bytes())
	if len(d.Conversations) != 2 || len(d.Conversations[0].Messages) != 256 || len(d.Conversations[1].Messages) != 4 {
		t.Errorf("want conversations of 256 and 4 messages; got %d conversations", len(d.Conversations))
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(b []byte) (int, error) { w.n += int64(len(b)); return len(b), nil }

// TestSpoolHeapStaysWithinBudget drives 200 interleaved conversations of
// 4 KiB messages, several times the default budget in all, through the
// JSON report with default options, and samples the heap in use (after a
// collection) as it goes: it stays under the budget plus a margin, and
// no message is dropped.
func TestSpoolHeapStaysWithinBudget(t *testing.T) {
	if testutil.RaceEnabled {
		t.Skip("heap figures are not meaningful under the race detector")
	}
	const convs, msgs, margin = 200, 200, 16 << 20
	var out countWriter
	j := NewJSON(&out, JSONOptions{})
	refs := make([]*dissect.ConvRef, convs)
	for i := range refs {
		refs[i] = &dissect.ConvRef{ID: uint64(i + 1), Client: "10.0.0.1:1", Server: "10.0.0.2:80"}
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 256)
	m := &dissect.Message{Opcode: dissect.OpText, Payload: payload, Length: uint64(len(payload)), ValidUTF8: true}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, uint64(0)
	held := 0
	for k := 0; k < msgs; k++ {
		for _, c := range refs {
			m.Index = uint64(k)
			j.Message(c, m)
			held += len(j.buf) + 1
		}
		if k%10 == 9 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if held < 4*DefaultMemoryBudget {
		t.Fatalf("only %d bytes of events: not enough to test a %d-byte budget", held, DefaultMemoryBudget)
	}
	if j.sp.spills == 0 {
		t.Errorf("%d bytes of events and the budget of %d bytes never spilled", held, DefaultMemoryBudget)
	}
	for _, c := range refs {
		j.End(c, &dissect.Summary{IsWebSocket: true, Protocol: dissect.ProtoRFC6455})
	}
	if err := j.Close(CaptureStats{}); err != nil {
		t.Fatal(err)
	}
	if out.n < int64(held) {
		t.Errorf("%d bytes written for %d bytes of events", out.n, held)
	}
	t.Logf("%d MiB of events, %d spills, heap in use %d MiB before, at most %d MiB during", held>>20, j.sp.spills, base>>20, peak>>20)
	if peak > base+DefaultMemoryBudget+margin {
		t.Errorf("heap in use reached %d MiB (%d MiB before the run); want under %d MiB more than before", peak>>20, base>>20, (DefaultMemoryBudget+margin)>>20)
	}
}
