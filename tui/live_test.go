package tui

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsdump/wsdump/internal/testutil"
)

// clientLine reports whether the screen has a timeline line showing msg as
// a text message sent by the client.
func clientLine(screen, msg string) bool {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "→ text") && strings.Contains(l, msg) {
			return true
		}
	}
	return false
}

// TestTmuxLive runs the built wsdump --tui -i lo in a real terminal (tmux)
// while a WebSocket client and server talk on loopback. Each message the
// client sends must be on the screen within one second, and the quit key
// must end the capture and the process cleanly, with the capture counters
// on stderr, while traffic is still flowing.
func TestTmuxLive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wsdump and captures live in tmux; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("live capture on lo needs root; run the test as root to check --tui -i")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed; the end-to-end terminal test needs it")
	}
	bin := buildWsdump(t)
	for _, quit := range []string{"q", "C-c"} {
		t.Run(quit, func(t *testing.T) { testTmuxLive(t, bin, quit) })
	}
}

func testTmuxLive(t *testing.T, bin, quitKey string) {
	const messages = 6
	port := testutil.StartEchoServer(t, nil)
	dir := t.TempDir()
	errFile := filepath.Join(dir, "stderr")
	rcFile := filepath.Join(dir, "status")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("wsdump-live-%d-%d", os.Getpid(), port)}
	t.Cleanup(func() { s.run("kill-server") })
	cmd := fmt.Sprintf("%s --tui --utc -i lo tcp port %d 2>%s; echo $? >%s", bin, port, errFile, rcFile)
	if out, err := s.run("-f", "/dev/null", "new-session", "-d", "-s", "w", "-x", "120", "-y", "40", "-e", "NO_COLOR=", cmd); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	// The interface starts once the interface is open for capture.
	s.waitFor("start", " lo │ live │ ")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, fmt.Sprintf("ws://127.0.0.1:%d/live", port), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	s.waitFor("handshake", "Conversations (1)", fmt.Sprintf("→ 127.0.0.1:%d", port))
	s.keys("Enter")
	s.waitFor("open the conversation", "▶ Messages of #1")

	for i := 1; i <= messages; i++ {
		msg := fmt.Sprintf("live message %d of %d", i, messages)
		sent := time.Now()
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("write %q: %v", msg, err)
		}
		var scr string
		for {
			scr = s.screen()
			if clientLine(scr, msg) {
				break
			}
			if time.Since(sent) > time.Second {
				t.Fatalf("%q was not on the screen within 1s of being sent:\n%s", msg, scr)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("%q on the screen after %v", msg, time.Since(sent).Round(time.Millisecond))
		_, echo, err := c.Read(ctx)
		if err != nil || string(echo) != msg {
			t.Fatalf("echo of %q: %q, %v", msg, echo, err)
		}
	}
	s.waitFor("message count", fmt.Sprintf("%d msgs", 2*messages))

	// Quit while the client keeps sending, so that the capture is busy.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			if c.Write(ctx, websocket.MessageText, []byte("more")) != nil {
				return
			}
			if _, _, err := c.Read(ctx); err != nil {
				return
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(100 * time.Millisecond)
	s.keys(quitKey)
	s.waitGone(quitKey, 3*time.Second)

	status, err := os.ReadFile(rcFile)
	if err != nil {
		t.Fatalf("the shell did not write the exit status: %v", err)
	}
	stderr, _ := os.ReadFile(errFile)
	if got := strings.TrimSpace(string(status)); got != "0" {
		t.Errorf("exit status %s, want 0; stderr:\n%s", got, stderr)
	}
	if !strings.Contains(string(stderr), " packets captured\n") {
		t.Errorf("stderr does not give the capture counters:\n%s", stderr)
	}
}
