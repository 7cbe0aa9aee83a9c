package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden with the output of this build")

// wsdumpBin is the command built once by TestMain, for the tests that need
// real exit statuses, standard input and output files.
var wsdumpBin string

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "wsdump-cmd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	wsdumpBin = filepath.Join(dir, "wsdump")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "the go command is not in PATH: cannot build wsdump for the tests")
		os.Exit(1)
	}
	build := exec.Command(goTool, "build", "-o", wsdumpBin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// demoCapture returns the path of a capture of testdata/pcaps.
func demoCapture(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(testutil.RepoRoot(t), "testdata", "pcaps", name)
}

// runInProcess parses args as the command line and runs the command with
// stdin, returning what it wrote and the error run returned. The environment
// is empty and stdout is not a terminal. A usage error fails the test.
func runInProcess(t *testing.T, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	cfg, perr := parseArgs(args, &out, func(string) string { return "" })
	if perr != nil {
		t.Fatalf("parseArgs(%q): %v", args, perr)
	}
	err = run(context.Background(), cfg, stdin, &out, &errOut)
	return out.String(), errOut.String(), err
}

// runBinary runs the built command with args, stdin (nil: none) and extra
// environment variables (NO_COLOR is removed from the inherited ones), and
// returns its output and exit status (-1 when a signal ended it).
func runBinary(t *testing.T, stdin io.Reader, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(wsdumpBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NO_COLOR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("running wsdump: %v", err)
	}
	return out.String(), errOut.String(), code
}

// checkGolden compares got with the golden file at path, or writes it there
// with -update.
func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (create the golden files with: go test ./cmd/wsdump -update)", err)
	}
	if got == string(want) {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Fatalf("output differs from %s at line %d (%d lines, want %d):\ngot:  %q\nwant: %q\n(if the change is intended: go test ./cmd/wsdump -update, and check the diff)",
				path, i+1, len(gl), len(wl), g, w)
		}
	}
}

// lines splits output into its lines, without the empty string after the
// final newline.
func lines(s string) []string {
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
