package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestTUILiveOpenError checks that --tui -i reports an interface that
// cannot be opened, with the exit status of a failed input, before the
// interface takes the terminal.
func TestTUILiveOpenError(t *testing.T) {
	cfg, err := parseArgs([]string{"--tui", "-i", "wsdump-none0"}, &bytes.Buffer{}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = run(context.Background(), cfg, strings.NewReader(""), &stdout, &stderr)
	if err == nil {
		t.Fatal("run: no error for an interface that does not exist")
	}
	// Without root the permission is what fails first.
	if msg := err.Error(); !strings.Contains(msg, `no such interface "wsdump-none0"`) && !strings.Contains(msg, "needs root") {
		t.Errorf("error %q does not say what is wrong with the interface", msg)
	}
	if got := exitStatus(err); got != 1 {
		t.Errorf("exit status %d, want 1", got)
	}
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Errorf("output before the interface opened: stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

// TestTUIListInterfaces checks that -D lists the interfaces with --tui too.
func TestTUIListInterfaces(t *testing.T) {
	cfg, err := parseArgs([]string{"--tui", "-D"}, &bytes.Buffer{}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := run(context.Background(), cfg, strings.NewReader(""), &stdout, &bytes.Buffer{}); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(stdout.String(), ".lo") {
		t.Errorf("the list does not name the loopback interface lo:\n%s", stdout.String())
	}
}
