package report

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestSyntheticDigests records (or, when the file exists, compares) the
// SHA-256 of the JSON report and the HAR of interleaved synthetic
// conversations, in the folder named by WSDUMP_DIGESTS.
func TestSyntheticDigests(t *testing.T) {
	dir := os.Getenv("WSDUMP_DIGESTS")
	if dir == "" {
		t.Skip("WSDUMP_DIGESTS is not set")
	}
	var out bytes.Buffer
	for _, all := range []bool{false, true} {
		for _, shape := range [][3]int{{1, 1, 10}, {3, 0, 10}, {12, 30, 300}, {14, 5, 2000}} {
			var jb, hb bytes.Buffer
			gen := Generator{Name: "wsdump", Version: "test"}
			j := NewJSON(&jb, JSONOptions{Generator: gen, AllConversations: all})
			h := NewHAR(&hb, HAROptions{Creator: gen})
			feedInterleaved(Multi(j, h), shape[0], shape[1], shape[2])
			if err := j.Close(CaptureStats{Packets: 5}); err != nil {
				t.Fatal(err)
			}
			if err := h.Close(); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "synthetic %v all=%v json %x (%d bytes)\n", shape, all, sha256.Sum256(jb.Bytes()), jb.Len())
			fmt.Fprintf(&out, "synthetic %v all=%v har %x (%d bytes)\n", shape, all, sha256.Sum256(hb.Bytes()), hb.Len())
		}
	}
	checkDigests(t, filepath.Join(dir, "synthetic.txt"), out.Bytes())
}

func checkDigests(t *testing.T, path string, got []byte) {
	want, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("digests written to %s", path)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("digests differ from %s:\n%s", path, got)
	}
}
