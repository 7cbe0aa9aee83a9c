package report_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pipeline"
	"github.com/wsdump/wsdump/internal/testutil"
	"github.com/wsdump/wsdump/report"
)

// TestCaptureDigests records (or, when the file exists, compares) the
// SHA-256 of the JSON report and the HAR of every capture, with and
// without a payload cap and with all conversations or only WebSocket
// ones, in the folder named by WSDUMP_DIGESTS.
func TestCaptureDigests(t *testing.T) {
	dir := os.Getenv("WSDUMP_DIGESTS")
	if dir == "" {
		t.Skip("WSDUMP_DIGESTS is not set")
	}
	root := testutil.RepoRoot(t)
	var out bytes.Buffer
	for _, path := range allCaptures(t) {
		rel, _ := filepath.Rel(root, path)
		for _, mp := range []int{0, 16} {
			for _, all := range []bool{false, true} {
				jb, hb := reportAndHAR(t, path, mp, all)
				fmt.Fprintf(&out, "%s max=%d all=%v json %x (%d bytes)\n", rel, mp, all, sha256.Sum256(jb), len(jb))
				fmt.Fprintf(&out, "%s max=%d all=%v har %x (%d bytes)\n", rel, mp, all, sha256.Sum256(hb), len(hb))
			}
		}
	}
	p := filepath.Join(dir, "captures.txt")
	want, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		if err := os.WriteFile(p, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("digests differ from %s:\n%s", p, out.Bytes())
	}
}

// reportAndHAR runs one capture through the pipeline into the JSON report
// and the HAR.
func reportAndHAR(t *testing.T, path string, maxPayload int, all bool) (js, har []byte) {
	t.Helper()
	src, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var jb, hb bytes.Buffer
	gen := report.Generator{Name: "wsdump", Version: "test"}
	j := report.NewJSON(&jb, report.JSONOptions{Generator: gen, Inputs: []report.Input{{Name: filepath.Base(path)}}, MaxPayload: maxPayload, AllConversations: all})
	h := report.NewHAR(&hb, report.HAROptions{Creator: gen})
	cfg := pipeline.Config{Dissect: dissect.DefaultConfig()}
	cfg.Dissect.MaxPayload = maxPayload
	st, runErr := pipeline.Run(context.Background(), src, cfg, report.Multi(j, h))
	cs := report.CaptureStats{Packets: st.Capture.Packets, Messages: st.Messages, Conversations: st.Conversations}
	cs.SetTimes(st.First, st.Last)
	if runErr != nil {
		cs.Error = runErr.Error()
	}
	if err := j.Close(cs); err != nil {
		t.Fatal(err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	return jb.Bytes(), hb.Bytes()
}
