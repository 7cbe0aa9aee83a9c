package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// theDemo is the project's demo capture: one WebSocket conversation with 9
// messages (see testdata/pcaps/README.md).
func theDemo(t *testing.T) string {
	return demoCapture(t, "ws-ethernet-ipv4.pcap")
}

// runArgs parses args and runs wsdump in-process.
func runArgs(t *testing.T, ctx context.Context, stdin io.Reader, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cfg, perr := parseArgs(args, &out, func(string) string { return "" })
	if perr != nil {
		return "", "", perr
	}
	err = run(ctx, cfg, stdin, &out, &errb)
	return out.String(), errb.String(), err
}

// jsonLines checks that every line of s is a JSON object and returns them.
func jsonLines(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d is not a JSON object: %v\n%s", i+1, err, line)
		}
		out = append(out, m)
	}
	return out
}

// reportMessages decodes a JSON report and returns its message objects.
func reportMessages(t *testing.T, b []byte) (doc map[string]any, msgs []map[string]any) {
	t.Helper()
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the JSON report is not one JSON document: %v\n%.500s", err, b)
	}
	convs, _ := doc["conversations"].([]any)
	for _, c := range convs {
		for _, m := range c.(map[string]any)["messages"].([]any) {
			msgs = append(msgs, m.(map[string]any))
		}
	}
	if _, ok := doc["capture"].(map[string]any); !ok {
		t.Fatalf("the JSON report has no capture statistics: %.300s", b)
	}
	return doc, msgs
}

func TestJSONLToStdoutTurnsTextOff(t *testing.T) {
	dir := t.TempDir()
	har := filepath.Join(dir, "out.har")
	stdout, _, err := runArgs(t, context.Background(), nil, "-r", theDemo(t), "--jsonl", "-", "--har", har)
	if err != nil {
		t.Fatal(err)
	}
	lines := jsonLines(t, stdout)
	var kinds []string
	for _, l := range lines {
		kinds = append(kinds, l["event"].(string))
	}
	want := "handshake " + strings.Repeat("message ", 9) + "conversation"
	if got := strings.Join(kinds, " "); got != want {
		t.Errorf("events %s; want %s", got, want)
	}
	b, err := os.ReadFile(har)
	if err != nil || !json.Valid(b) {
		t.Fatalf("HAR file: %v valid=%v", err, json.Valid(b))
	}
}

func TestJSONFileWithTextView(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	stdout, _, err := runArgs(t, context.Background(), nil, "-r", theDemo(t), "--json", path, "--utc")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stdout, "12:00:00.003000 #1 192.0.2.10:50000 > 198.51.100.20:80 handshake rfc6455 GET /chat") {
		t.Errorf("text view is not on stdout:\n%s", stdout)
	}
	b, _ := os.ReadFile(path)
	_, msgs := reportMessages(t, b)
	if len(msgs) != 9 || msgs[0]["text"] != "Hello, server" {
		t.Errorf("%d messages, first %v; want 9, \"Hello, server\"", len(msgs), msgs[0])
	}
}

func TestFiltersApplyToEveryOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	stdout, _, err := runArgs(t, context.Background(), nil, "-r", theDemo(t), "--json", path,
		"--from", "client", "--opcode", "text,close", "--grep", "^(frag|Hello)", "--conv", ":80")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	_, msgs := reportMessages(t, b)
	var got []string
	for _, m := range msgs {
		got = append(got, m["text"].(string))
	}
	if strings.Join(got, "|") != "Hello, server|fragmented message" {
		t.Errorf("JSON report messages %q", got)
	}
	if n := strings.Count(stdout, " text "); n != 2 || strings.Contains(stdout, "Hello, client") {
		t.Errorf("text view shows other messages:\n%s", stdout)
	}
	// A conversation filter that matches nothing leaves an empty report.
	if _, _, err := runArgs(t, context.Background(), nil, "-r", theDemo(t), "--json", path, "--conv", "192.0.2.99"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	if doc, msgs := reportMessages(t, b); len(msgs) != 0 || len(doc["conversations"].([]any)) != 0 {
		t.Errorf("--conv 192.0.2.99 kept %d messages", len(msgs))
	}
}

func TestOutputUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-r", "x", "--json", "-", "--har", "-"},
		{"-r", "x", "--json", "a", "--jsonl", "a"},
		{"-r", "x", "--from", "both"},
		{"-r", "x", "--opcode", "txt"},
		{"-r", "x", "--grep", "("},
		{"-r", "x", "--conv", "host.example:80"},
	} {
		if _, err := parseArgs(args, io.Discard, func(string) string { return "" }); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
}

// TestTruncatedInputKeepsOutputsComplete cuts the capture in the middle of
// a packet: wsdump reports the damage, and every output is still a
// complete document holding what was decoded before it.
func TestTruncatedInputKeepsOutputsComplete(t *testing.T) {
	b, err := os.ReadFile(theDemo(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, b[:len(b)*2/3], 0o644)
	js, har := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.har")
	stdout, _, err := runArgs(t, context.Background(), nil, "-r", cut, "--json", js, "--har", har, "--jsonl", "-")
	if err == nil {
		t.Fatal("a truncated capture gave no error")
	}
	lines := jsonLines(t, stdout)
	if last := lines[len(lines)-1]; last["event"] != "conversation" || last["end_reason"] != "open" {
		t.Errorf("last event %v; want the summary of the conversation left open", last)
	}
	rb, _ := os.ReadFile(js)
	doc, msgs := reportMessages(t, rb)
	if len(msgs) == 0 || len(msgs) >= 9 {
		t.Errorf("%d messages before the cut; want some, not all 9", len(msgs))
	}
	if e, _ := doc["capture"].(map[string]any)["error"].(string); !strings.Contains(e, "truncated") {
		t.Errorf("capture.error = %q; want the truncation", e)
	}
	hb, _ := os.ReadFile(har)
	if !json.Valid(hb) {
		t.Errorf("HAR is not valid JSON:\n%s", hb)
	}
}

// TestDiskFull writes the report to /dev/full: a clear error, which main
// turns into exit status 1.
func TestDiskFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("/dev/full is absent on this system")
	}
	for _, flag := range []string{"--json", "--jsonl", "--har"} {
		_, _, err := runArgs(t, context.Background(), nil, "-r", theDemo(t), "-q", flag, "/dev/full")
		if err == nil || !strings.Contains(err.Error(), "writing /dev/full") || !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("%s /dev/full: error %v; want writing /dev/full: ... no space left on device", flag, err)
		}
	}
}

var build struct {
	once sync.Once
	dir  string
	bin  string
	err  error
}

// TestMain removes the command built by the tests.
// buildWsdump returns the command TestMain built.
func buildWsdump(t *testing.T) string {
	t.Helper()
	return wsdumpBin
}

// TestInterruptFinishesOutputs runs the built command on a capture that
// arrives through a pipe, stops feeding it half way and sends SIGINT: the
// JSON report and the JSON Lines must be complete and valid, with what was
// decoded before the interrupt.
func TestInterruptFinishesOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command: not in -short mode")
	}
	capb, err := os.ReadFile(theDemo(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := buildWsdump(t)
	js := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(bin, "-r", "-", "--jsonl", "-", "--json", js)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Half the file: the handshake and the first messages, then nothing
	// more, the pipe left open.
	if _, err := in.Write(capb[:len(capb)/2]); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(outPipe)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var got []string
	// Generous: a loaded 2-core machine can take seconds to start a process.
	timeout := time.After(60 * time.Second)
	// JSON Lines to a pipe are flushed line by line: wait for a message.
	for !strings.Contains(strings.Join(got, "\n"), `"event":"message"`) {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-timeout:
			t.Fatalf("no message line before the interrupt; got %q, stderr %s", got, stderr.String())
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	// The output ends when wsdump exits.
	deadline := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case l, ok := <-lines:
			if ok {
				got = append(got, l)
			}
			open = ok
		case <-deadline:
			t.Fatal("wsdump did not exit after SIGINT")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("wsdump exited with %v after SIGINT; want 0\n%s", err, stderr.String())
	}
	in.Close()
	ev := jsonLines(t, strings.Join(got, "\n"))
	last := ev[len(ev)-1]
	if last["event"] != "conversation" || last["end_reason"] != "open" {
		t.Errorf("last JSON line %v; want the summary of the open conversation", last)
	}
	var nmsg int
	for _, e := range ev {
		if e["event"] == "message" {
			nmsg++
		}
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	doc, msgs := reportMessages(t, b)
	if len(msgs) != nmsg || nmsg == 0 || nmsg >= 9 {
		t.Errorf("report %d messages, JSON Lines %d; want the same, some but not all 9", len(msgs), nmsg)
	}
	if doc["capture"].(map[string]any)["interrupted"] != true {
		t.Errorf("capture.interrupted is not true: %v", doc["capture"])
	}
}

// TestDiskFullExitStatus checks the exit status of the built command when
// the output device is full.
func TestDiskFullExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command: not in -short mode")
	}
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("/dev/full is absent on this system")
	}
	bin := buildWsdump(t)
	out, err := exec.Command(bin, "-r", theDemo(t), "--json", "/dev/full").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "wsdump: writing /dev/full: ") {
		t.Errorf("exit %v, output:\n%s\nwant status 1 and a writing /dev/full error", err, out)
	}
}

// payload decodes a message's payload, from text or data.
func payload(t *testing.T, m map[string]any) []byte {
	if s, ok := m["text"].(string); ok {
		return []byte(s)
	}
	b, err := base64.StdEncoding.DecodeString(m["data"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
