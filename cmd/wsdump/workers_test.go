package main

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/wsdump/wsdump/internal/pcaptest"
	"github.com/wsdump/wsdump/internal/testutil"
)

// writeBulk writes a bulk capture of about mb MiB for the tests, with a
// quarter of the connections compressed, and, when lossy, a segment in 50
// lost and one in 40 reordered.
func writeBulk(t *testing.T, mb int64, lossy bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bulk.pcap")
	opt := pcaptest.BulkOptions{Size: mb << 20, Conns: 50, Seed: 3, Deflate: 25}
	if lossy {
		opt.LossEvery, opt.ReorderEvery = 50, 40
	}
	if _, err := pcaptest.WriteBulkFile(path, opt); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWorkersSameOutput: every output is byte for byte the same with one
// worker and with the staged run, and from one staged run to the next.
func TestWorkersSameOutput(t *testing.T) {
	files := []string{writeBulk(t, 4, false), writeBulk(t, 3, true)}
	files = append(files, testutil.SharedCaptures(t)...)
	own, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", "*.pcap*"))
	files = append(files, own...)
	modes := [][]string{
		{"-v", "-x"},
		{"-q"},
		{"--jsonl", "-"},
		{"--json", "-"},
		{"--har", "-"},
	}
	for _, path := range files {
		for _, mode := range modes {
			args := append([]string{"-r", path, "--utc", "--color", "never"}, mode...)
			out1, err1, e1 := runInProcess(t, nil, append(args, "--workers", "1")...)
			err1 = withoutPeakMemory(err1)
			if len(out1) == 0 {
				t.Fatalf("%s %q: no output", filepath.Base(path), mode)
			}
			for run, workers := range []string{"2", "2", "3"} {
				out2, err2, e2 := runInProcess(t, nil, append(args, "--workers", workers)...)
				err2 = withoutPeakMemory(err2)
				if out2 != out1 || err2 != err1 || (e1 == nil) != (e2 == nil) {
					t.Errorf("%s %q run %d: output differs between 1 and %s workers (%d and %d bytes; stderr %q and %q)",
						filepath.Base(path), mode, run, workers, len(out1), len(out2), err1, err2)
				}
			}
		}
	}
}

// withoutPeakMemory drops the peak memory line of -v, which the process
// measures of itself (the tests share one).
func withoutPeakMemory(stderr string) string {
	return peakMemoryLine.ReplaceAllString(stderr, "")
}

var peakMemoryLine = regexp.MustCompile(`(?m)^peak memory: .*\n`)
