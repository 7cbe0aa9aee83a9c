package pipeline

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/report"
)

// FuzzPipeline runs arbitrary capture bytes through the whole pipeline into
// the text output: no panic, and no byte of the wire reaches the output as a
// control character.
func FuzzPipeline(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "pcaps", "*.pcap*"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		run := func(dissectors int) []byte {
			src, err := capture.OpenReader(bytes.NewReader(b), "fuzz")
			if err != nil {
				return nil
			}
			defer src.Close()
			var out bytes.Buffer
			text := report.NewText(&out, report.TextOptions{Verbose: true, Hex: true})
			cfg := Config{Dissect: dissect.DefaultConfig(), MaxPackets: 4096, Dissectors: dissectors}
			cfg.Dissect.MaxPayload = 256
			cfg.Dissect.LateDigest = dissectors > 0
			Run(context.Background(), src, cfg, text)
			text.Flush()
			return out.Bytes()
		}
		out := run(0)
		for _, c := range out {
			if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
				t.Fatalf("control byte %#x in the output:\n%q", c, out)
			}
		}
		// The staged run, with batches of a few events, says the same.
		a, b2, c, d := streamBatchBytes, streamBatchRecs, evBatchBytes, evBatchEvents
		streamBatchBytes, streamBatchRecs, evBatchBytes, evBatchEvents = 64, 3, 64, 2
		staged := run(2) // two dissectors: the merge by record number
		streamBatchBytes, streamBatchRecs, evBatchBytes, evBatchEvents = a, b2, c, d
		if !bytes.Equal(staged, out) {
			t.Fatalf("the staged run's output differs:\n%s\n---\n%s", staged, out)
		}
	})
}
