package report_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pipeline"
	"github.com/wsdump/wsdump/internal/testutil"
	"github.com/wsdump/wsdump/report"
)

// schemas compiles the report and event schemas of report/schema.
func schemas(t *testing.T) (rep, ev *jsonschema.Schema) {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.AssertContent()
	for _, name := range []string{"report.schema.json", "event.schema.json"} {
		f, err := os.Open(filepath.Join("schema", name))
		if err != nil {
			t.Fatal(err)
		}
		doc, err := jsonschema.UnmarshalJSON(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.AddResource("https://wsdump.github.io/schema/1/"+name, doc); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if rep, err = c.Compile("https://wsdump.github.io/schema/1/report.schema.json"); err != nil {
		t.Fatal(err)
	}
	if ev, err = c.Compile("https://wsdump.github.io/schema/1/event.schema.json"); err != nil {
		t.Fatal(err)
	}
	return rep, ev
}

// outputs holds what the three writers produced for one capture.
type outputs struct {
	json, jsonl, har []byte
	st               pipeline.Stats
}

func runOutputs(t *testing.T, path string, maxPayload int, f *report.Filter) outputs {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var jb, lb, hb bytes.Buffer
	gen := report.Generator{Name: "wsdump", Version: "test"}
	j := report.NewJSON(&jb, report.JSONOptions{Generator: gen, Inputs: []report.Input{{Name: path}}, MaxPayload: maxPayload})
	l := report.NewJSONL(&lb, report.JSONLOptions{})
	h := report.NewHAR(&hb, report.HAROptions{Creator: gen})
	var sink dissect.Sink = report.Multi(j, l, h)
	if f != nil {
		sink = report.NewFilterSink(*f, sink)
	}
	cfg := pipeline.Config{Dissect: dissect.DefaultConfig()}
	cfg.Dissect.MaxPayload = maxPayload
	st, runErr := pipeline.Run(context.Background(), src, cfg, sink)
	cs := report.CaptureStats{Packets: st.Capture.Packets, Messages: st.Messages}
	cs.SetTimes(st.First, st.Last)
	if runErr != nil {
		cs.Error = runErr.Error()
	}
	if err := j.Close(cs); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	return outputs{jb.Bytes(), lb.Bytes(), hb.Bytes(), st}
}

func allCaptures(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in testdata/pcaps: %v", err)
	}
	if _, err := os.Stat(filepath.Join(testutil.RepoRoot(t), "..", "shared", "pcaps")); err == nil {
		files = append(files, testutil.SharedCaptures(t)...)
	} else {
		t.Logf("the shared corpus ../shared/pcaps is absent: only testdata/pcaps is checked")
	}
	return files
}

// reportDoc is the part of the JSON report the tests look into.
type reportDoc struct {
	Conversations []struct {
		ID       uint64 `json:"id"`
		Messages []struct {
			From      string  `json:"from"`
			Opcode    string  `json:"opcode"`
			Length    uint64  `json:"length"`
			Text      *string `json:"text"`
			Data      *string `json:"data"`
			Truncated bool    `json:"truncated"`
			SHA256    string  `json:"sha256"`
			Time      string  `json:"time"`
		} `json:"messages"`
		Violations []struct {
			Code string `json:"code"`
		} `json:"violations"`
	} `json:"conversations"`
}

func payloadOf(t *testing.T, text, data *string) []byte {
	t.Helper()
	switch {
	case text != nil && data == nil:
		return []byte(*text)
	case data != nil && text == nil:
		b, err := base64.StdEncoding.DecodeString(*data)
		if err != nil {
			t.Fatalf("data is not base64: %v", err)
		}
		return b
	}
	t.Fatalf("a message has text %v and data %v: want exactly one", text != nil, data != nil)
	return nil
}

// TestOutputsValidateOnEveryCapture runs every capture the project has
// through the three writers: the report and every JSON Lines event must
// validate against the schema, every payload must hash to its sha256, and
// the three outputs must agree on the messages.
func TestOutputsValidateOnEveryCapture(t *testing.T) {
	rep, ev := schemas(t)
	for _, path := range allCaptures(t) {
		name := filepath.Base(path)
		out := runOutputs(t, path, 0, nil)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(out.json))
		if err != nil {
			t.Fatalf("%s: report is not JSON: %v", name, err)
		}
		if err := rep.Validate(v); err != nil {
			t.Errorf("%s: report does not validate: %v", name, err)
		}
		var doc reportDoc
		if err := json.Unmarshal(out.json, &doc); err != nil {
			t.Fatal(err)
		}
		var reportMsgs []string
		for _, c := range doc.Conversations {
			for _, m := range c.Messages {
				p := payloadOf(t, m.Text, m.Data)
				if m.Truncated || uint64(len(p)) != m.Length {
					t.Errorf("%s: with --max-payload 0, a %s of %d bytes kept %d (truncated %v)", name, m.Opcode, m.Length, len(p), m.Truncated)
				}
				if sum := sha256.Sum256(p); hex.EncodeToString(sum[:]) != m.SHA256 && m.Text == nil {
					t.Errorf("%s: conversation %d %s message: sha256 of data %x; field %s", name, c.ID, m.Opcode, sum, m.SHA256)
				} else if m.Text != nil && hex.EncodeToString(sum[:]) != m.SHA256 {
					t.Errorf("%s: conversation %d %s message: text %q does not hash to %s", name, c.ID, m.Opcode, *m.Text, m.SHA256)
				}
				reportMsgs = append(reportMsgs, fmt.Sprintf("%d %s %s %s %s", c.ID, m.Time, m.From, m.Opcode, m.SHA256))
			}
		}

		var lineMsgs []string
		kinds := map[string]int{}
		sc := bufio.NewScanner(bytes.NewReader(out.jsonl))
		sc.Buffer(nil, 64<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Bytes()
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
			if err != nil {
				t.Fatalf("%s: line %d is not JSON: %v\n%s", name, n, err, line)
			}
			if err := ev.Validate(v); err != nil {
				t.Errorf("%s: line %d does not validate: %v\n%.300s", name, n, err, line)
			}
			var e struct {
				Event  string `json:"event"`
				Conv   uint64 `json:"conversation"`
				Time   string `json:"time"`
				From   string `json:"from"`
				Opcode string `json:"opcode"`
				SHA256 string `json:"sha256"`
			}
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatal(err)
			}
			kinds[e.Event]++
			if e.Event == "message" {
				lineMsgs = append(lineMsgs, fmt.Sprintf("%d %s %s %s %s", e.Conv, e.Time, e.From, e.Opcode, e.SHA256))
			}
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
		// The report groups messages by conversation; compare as sets.
		sort.Strings(reportMsgs)
		sort.Strings(lineMsgs)
		if strings.Join(reportMsgs, "\n") != strings.Join(lineMsgs, "\n") {
			t.Errorf("%s: JSON Lines messages differ from the report's:\n%s\nreport:\n%s", name, strings.Join(lineMsgs, "\n"), strings.Join(reportMsgs, "\n"))
		}
		if uint64(len(lineMsgs)) != out.st.Messages {
			t.Errorf("%s: %d message lines; the pipeline counted %d messages", name, len(lineMsgs), out.st.Messages)
		}
		if kinds["handshake"] != int(out.st.Handshakes) {
			t.Errorf("%s: %d handshake lines; the pipeline counted %d", name, kinds["handshake"], out.st.Handshakes)
		}
		if !json.Valid(out.har) {
			t.Errorf("%s: HAR is not valid JSON:\n%s", name, out.har)
		}
		t.Logf("%s: %d conversations, %d messages, events %v", name, len(doc.Conversations), len(reportMsgs), kinds)
	}
}

// TestMaxPayloadTruncatesAndKeepsHash checks that under a payload cap a
// message says so and its sha256 still covers the whole payload.
func TestMaxPayloadTruncatesAndKeepsHash(t *testing.T) {
	path := testutil.Shared(t, "pcap2har/ipv4-websocket-segmented.pcap")
	full := runOutputs(t, path, 0, nil)
	cut := runOutputs(t, path, 16, nil)
	var a, b reportDoc
	if err := json.Unmarshal(full.json, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cut.json, &b); err != nil {
		t.Fatal(err)
	}
	if len(a.Conversations) != 1 || len(b.Conversations) != 1 || len(a.Conversations[0].Messages) != 2 {
		t.Fatalf("want one conversation with 2 messages; got %+v", a)
	}
	for i, m := range b.Conversations[0].Messages {
		fm := a.Conversations[0].Messages[i]
		p := payloadOf(t, nil, m.Data)
		fp := payloadOf(t, nil, fm.Data)
		if !bytes.Equal(p, fp[:min(16, len(fp))]) {
			t.Errorf("message %d: kept %x; want the first 16 bytes %x", i, p, fp[:16])
		}
		if m.Truncated != (fm.Length > 16) || m.Length != fm.Length || m.SHA256 != fm.SHA256 {
			t.Errorf("message %d: truncated %v length %d sha %s; uncut: length %d sha %s", i, m.Truncated, m.Length, m.SHA256, fm.Length, fm.SHA256)
		}
	}
	if !b.Conversations[0].Messages[1].Truncated {
		t.Error("the 5 kB message is not marked truncated at a 16-byte cap")
	}
}
