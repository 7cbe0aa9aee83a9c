package tui

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wsdump/wsdump/internal/testutil"
)

// tmuxSession runs a command in a detached tmux session on a server of its
// own, so that the test sees the screen as a terminal shows it.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func (s *tmuxSession) run(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	return string(out), err
}

func (s *tmuxSession) screen() string {
	out, err := s.run("capture-pane", "-p", "-t", "w")
	if err != nil {
		s.t.Fatalf("capture-pane: %v: %s", err, out)
	}
	return out
}

// waitFor polls the screen until it holds every string of want.
func (s *tmuxSession) waitFor(what string, want ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		scr := s.screen()
		ok := true
		for _, w := range want {
			if !strings.Contains(scr, w) {
				ok = false
			}
		}
		if ok {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: the screen never showed %q:\n%s", what, want, scr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	for _, k := range keys {
		if out, err := s.run("send-keys", "-t", "w", k); err != nil {
			s.t.Fatalf("send-keys %s: %v: %s", k, err, out)
		}
		// One key at a time, as a person types: each is its own input.
		time.Sleep(30 * time.Millisecond)
	}
}

// TestTmuxEndToEnd runs the built wsdump --tui in a real terminal (tmux),
// navigates to the second conversation and its second message, and reads
// the message text off the screen.
func TestTmuxEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wsdump and runs it in tmux; skipped with -short")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; the end-to-end terminal test needs it")
	}
	bin := buildWsdump(t)
	root := testutil.RepoRoot(t)
	capFile := filepath.Join(root, "testdata", "pcaps", "ws-mixed-ethernet-sll.pcapng")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("wsdump-test-%d", os.Getpid())}
	t.Cleanup(func() { s.run("kill-server") })
	cmd := fmt.Sprintf("%s --tui --utc -r %s", bin, capFile)
	if out, err := s.run("-f", "/dev/null", "new-session", "-d", "-s", "w", "-x", "100", "-y", "30", "-e", "NO_COLOR=", cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	s.waitFor("loading", "Conversations (2)", "done", "44 pkts")

	s.keys("j", "Enter")
	s.waitFor("second conversation", "Messages of #2", "10.0.0.1:40000 → 10.0.0.2:8080")
	s.keys("g", "j", "Enter")
	scr := s.waitFor("second message", "payload: server text, 13 bytes", "Hello, client")
	// The payload pane is below the timeline: the text is shown twice,
	// in the timeline preview and in the payload view.
	if strings.Count(scr, "Hello, client") < 2 {
		t.Errorf("the payload view does not show the message:\n%s", scr)
	}

	s.keys("/", "f", "r", "a", "g")
	s.waitFor("search", "/frag", "1 match(es)", "fragmented message")
	s.keys("Enter", "q")
	s.waitGone("q", 10*time.Second)
}

// waitGone waits until the program has quit and its session has closed.
func (s *tmuxSession) waitGone(key string, limit time.Duration) {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if _, err := s.run("has-session", "-t", "w"); err != nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s did not quit within %v:\n%s", key, limit, s.screen())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// buildWsdump builds the command into a temporary directory, or skips the
// test when the go command is missing.
func buildWsdump(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not in PATH; the test builds wsdump with it")
	}
	bin := filepath.Join(t.TempDir(), "wsdump")
	build := exec.Command(goBin, "build", "-o", bin, "./cmd/wsdump")
	build.Dir = testutil.RepoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
