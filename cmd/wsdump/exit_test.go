package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/wsdump/wsdump/internal/pcaptest"
)

func TestExitStatusUsage(t *testing.T) {
	demo := demoCapture(t, "ws-ethernet-ipv4.pcap")
	cases := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown flag", []string{"-r", demo, "--bogus"}, "flag provided but not defined: -bogus"},
		{"no -r", []string{"--utc"}, "no input: give a capture file with -r FILE"},
		{"no arguments", nil, "no input"},
		{"-c not a number", []string{"-r", demo, "-c", "ten"}, `invalid value "ten" for flag -c: want a positive number of packets`},
		{"-c zero", []string{"-r", demo, "-c", "0"}, `invalid value "0" for flag -c`},
		{"-c negative", []string{"-r", demo, "-c", "-3"}, `invalid value "-3" for flag -c`},
		{"-c missing value", []string{"-r", demo, "-c"}, "flag needs an argument: -c"},
		{"bad --color", []string{"-r", demo, "--color=sometimes"}, `--color wants auto, always or never, not "sometimes"`},
		{"bad --ws-port", []string{"-r", demo, "--ws-port", "65536"}, `invalid value "65536" for flag -ws-port`},
		{"stray argument", []string{"-r", demo, "port", "80"}, `unexpected argument "port 80"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, nil, nil, c.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.HasPrefix(stderr, "wsdump: ") || !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr %q does not name the problem (%q)", stderr, c.stderr)
			}
			if !strings.Contains(stderr, "Try 'wsdump --help'") {
				t.Errorf("stderr %q does not point to --help", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestExitStatusHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"-help"}} {
		stdout, stderr, code := runBinary(t, nil, nil, args...)
		if code != 0 || stderr != "" {
			t.Errorf("%q: exit status %d, stderr %q; want 0 and nothing", args, code, stderr)
		}
		if stdout != usageText {
			t.Errorf("%q printed %q, want the usage text", args, stdout)
		}
	}
	stdout, stderr, code := runBinary(t, nil, nil, "--version")
	if code != 0 || stderr != "" || stdout != "wsdump "+version+"\n" {
		t.Errorf("--version: status %d, stdout %q, stderr %q; want 0, %q, nothing", code, stdout, stderr, "wsdump "+version+"\n")
	}
}

func TestExitStatusBadInput(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.pcap")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, stderr string
	}{
		{"missing file", filepath.Join(dir, "nope.pcap"), `capture: open "` + filepath.Join(dir, "nope.pcap") + `": `},
		{"not a capture", text, "not a pcap or pcapng file"},
		{"empty file", empty, `capture: open "` + empty + `": not a pcap or pcapng file`},
		{"a directory", dir, `capture: open "` + dir + `"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runBinary(t, nil, nil, "-r", c.path)
			if code != 1 {
				t.Errorf("exit status %d, want 1 (stderr %q)", code, stderr)
			}
			if !strings.HasPrefix(stderr, "wsdump: ") || !strings.Contains(stderr, c.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, c.stderr)
			}
			if strings.Contains(stderr, "goroutine ") {
				t.Errorf("stderr holds a panic: %s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

// pcapRecordOffsets returns the file offset of every record of a classic
// little-endian pcap file.
func pcapRecordOffsets(t *testing.T, data []byte) []int {
	t.Helper()
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 {
		t.Fatal("not a little-endian microsecond pcap")
	}
	var offs []int
	for off := 24; off+16 <= len(data); {
		offs = append(offs, off)
		off += 16 + int(binary.LittleEndian.Uint32(data[off+8:]))
	}
	return offs
}

// A capture cut in the middle of a packet: what came before the cut is
// printed, the error names the packet and the offset, the status is 1.
func TestTruncatedCapture(t *testing.T) {
	data, err := os.ReadFile(demoCapture(t, "ws-ethernet-ipv4.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	offs := pcapRecordOffsets(t, data)
	if len(offs) != 22 {
		t.Fatalf("the demo capture has %d records, want 22", len(offs))
	}
	// Packet 13 (index 12) is the client's continuation frame "message".
	const cutPacket = 13
	start := offs[cutPacket-1]
	cut := start + 16 + (offs[cutPacket]-start-16)/2
	path := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}

	stdout, stderr, code := runBinary(t, nil, nil, "-r", path, "--utc")
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	wantErr := fmt.Sprintf(`wsdump: capture: read %q: file truncated at packet %d (offset %d)`, path, cutPacket, start)
	if !strings.Contains(stderr, wantErr) {
		t.Errorf("stderr %q\ndoes not contain %q", stderr, wantErr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("%d packets read", cutPacket-1)) {
		t.Errorf("stderr %q does not count the %d packets before the cut", stderr, cutPacket-1)
	}

	// The output is the one of the first 12 packets: the golden's first six
	// lines (up to the pong), the first fragment as an incomplete message,
	// and the end of a conversation still open.
	golden, err := os.ReadFile(filepath.Join("testdata", "golden", "ws-ethernet-ipv4.pcap.txt"))
	if err != nil {
		t.Fatal(err)
	}
	got, want := lines(stdout), lines(string(golden))
	if len(got) != 8 {
		t.Fatalf("got %d lines, want 8:\n%s", len(got), stdout)
	}
	for i := 0; i < 6; i++ {
		if got[i] != want[i] {
			t.Errorf("line %d:\ngot:  %s\nwant: %s", i+1, got[i], want[i])
		}
	}
	if w := `12:00:00.011000 #1 192.0.2.10:50000 > 198.51.100.20:80 text 11 incomplete "fragmented "`; got[6] != w {
		t.Errorf("line 7:\ngot:  %s\nwant: %s", got[6], w)
	}
	if !strings.Contains(got[7], " end rfc6455 /chat ") || !strings.HasSuffix(got[7], " close=none tcp=open") {
		t.Errorf("last line %q is not the end of a conversation left open", got[7])
	}
	// Reading the same packets with -c gives the same text.
	viaCount, _, err := runInProcess(t, nil, "-r", demoCapture(t, "ws-ethernet-ipv4.pcap"), "--utc", "-c", fmt.Sprint(cutPacket-1))
	if err != nil {
		t.Fatal(err)
	}
	if viaCount != stdout {
		t.Errorf("the truncated file printed\n%s\nbut -c %d of the whole file prints\n%s", stdout, cutPacket-1, viaCount)
	}
}

// A gzip-compressed capture cut short is an error too, not a quiet end.
func TestTruncatedGzipCapture(t *testing.T) {
	data, err := os.ReadFile(demoCapture(t, "ws-raw-ipv4.pcap.gz"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.pcap.gz")
	if err := os.WriteFile(path, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runBinary(t, nil, nil, "-r", path, "--utc")
	if code != 1 {
		t.Errorf("exit status %d, want 1 (stderr %q)", code, stderr)
	}
	if !strings.Contains(stderr, `wsdump: capture: read "`+path+`"`) {
		t.Errorf("stderr %q does not name the file", stderr)
	}
	if !strings.Contains(stdout, " handshake rfc6455 GET /chat ") {
		t.Errorf("what was decoded before the cut is not printed:\n%s", stdout)
	}
}

// -r - reads the capture from standard input, plain or gzip-compressed.
func TestStdin(t *testing.T) {
	for _, name := range []string{"ws-ethernet-ipv4.pcap", "ws-raw-ipv4.pcap.gz", "ws-sll2-ipv6.pcapng"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(demoCapture(t, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			stdout, stderr, code := runBinary(t, f, nil, "-r", "-", "--utc")
			if code != 0 {
				t.Fatalf("exit status %d, stderr %q", code, stderr)
			}
			checkGolden(t, filepath.Join("testdata", "golden", name+".txt"), stdout)
			if !strings.HasPrefix(stderr, "22 packets read, 22 TCP segments decoded\n") {
				t.Errorf("stderr %q does not start with the packet count", stderr)
			}
		})
	}
	stdout, stderr, code := runBinary(t, strings.NewReader("not a capture at all"), nil, "-r", "-")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "not a pcap or pcapng file") {
		t.Errorf("garbage on stdin: status %d, stdout %q, stderr %q; want 1, nothing, not a pcap", code, stdout, stderr)
	}
}

// The summary on stderr counts what the run saw; it never goes to stdout.
func TestStatsOnStderr(t *testing.T) {
	stdout, stderr, code := runBinary(t, nil, nil, "-r", demoCapture(t, "ws-ethernet-ipv4.pcap"), "--utc", "-v")
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr)
	}
	want := "22 packets read, 22 TCP segments decoded\n" +
		"1 TCP conversations, 1 WebSocket; 1 handshakes, 9 messages, 10 frames, 0 violations\n" +
		"reassembly: 2746 bytes in order, 0 out of order, 0 retransmitted or overlapping, 0 gaps (0 bytes), 0 keep-alives\n" +
		"capture time: 2024-05-01T12:00:00Z to 2024-05-01T12:00:00.021Z\n"
	// The peak memory line (Linux only) varies from run to run.
	stderr = regexp.MustCompile(`(?m)^peak memory: [0-9.]+ MiB\n`).ReplaceAllString(stderr, "")
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	if strings.Contains(stdout, "packets read") {
		t.Error("the summary went to stdout")
	}
}

// Without --utc the times are in the local time zone (TZ).
func TestLocalTime(t *testing.T) {
	stdout, stderr, code := runBinary(t, nil, []string{"TZ=Asia/Kolkata"}, "-r", demoCapture(t, "ws-ethernet-ipv4.pcap"), "-q")
	if code != 0 {
		t.Fatalf("exit status %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "17:30:00.020000 #1 ") {
		if _, err := os.Stat("/usr/share/zoneinfo/Asia/Kolkata"); err != nil {
			t.Skip("no time zone database for Asia/Kolkata")
		}
		t.Errorf("with TZ=Asia/Kolkata (UTC+5:30) the end line is %q, want it at 17:30:00.020000", stdout)
	}
}

// failWriter accepts n bytes, then fails every write with err.
type failWriter struct {
	n   int
	err error
}

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	k := w.n
	w.n = 0
	return k, w.err
}

func TestWriteError(t *testing.T) {
	demo := demoCapture(t, "ws-ethernet-ipv4.pcap")
	for _, c := range []struct {
		name  string
		after int
		err   error
	}{
		{"closed pipe at once", 0, syscall.EPIPE},
		{"full device midway", 500, syscall.ENOSPC},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := parseArgs([]string{"-r", demo, "--utc", "-x"}, &bytes.Buffer{}, func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			err = run(t.Context(), cfg, nil, &failWriter{n: c.after, err: c.err}, &stderr)
			if !errors.Is(err, c.err) {
				t.Fatalf("run returned %v, want an error wrapping %v", err, c.err)
			}
			if want := "writing output: " + c.err.Error(); err.Error() != want {
				t.Errorf("error %q, want %q", err, want)
			}
			if !strings.Contains(stderr.String(), "22 packets read") {
				t.Errorf("the summary is missing from stderr: %q", stderr.String())
			}
		})
	}
}

// The real command on a full device: status 1 and a clear message.
func TestWriteErrorFullDevice(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to write to: %v", err)
	}
	defer full.Close()
	cmd := exec.Command(wsdumpBin, "-r", demoCapture(t, "ws-ethernet-ipv4.pcap"))
	cmd.Stdout = full
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("wsdump > /dev/full: %v, want exit status 1; stderr %q", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "wsdump: writing output: ") || !strings.Contains(stderr.String(), "no space left on device") {
		t.Errorf("stderr %q does not say that writing the output failed", stderr.String())
	}
	if strings.Contains(stderr.String(), "goroutine ") {
		t.Errorf("stderr holds a panic: %s", stderr.String())
	}
}

// A reader that goes away (wsdump ... | head) ends the command as it ends
// other Unix filters: by SIGPIPE, silently, without a panic.
func TestWriteErrorClosedPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(wsdumpBin, "-r", demoCapture(t, "ws-ethernet-ipv4.pcap"))
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	w.Close()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("wsdump into a closed pipe succeeded (%v)", err)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		if ws.Signal() != syscall.SIGPIPE {
			t.Errorf("ended by %v, want SIGPIPE", ws.Signal())
		}
	} else if ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "broken pipe") {
		t.Errorf("exit status %d, stderr %q; want SIGPIPE, or 1 and a broken pipe message", ee.ExitCode(), stderr.String())
	}
	if strings.Contains(stderr.String(), "goroutine ") {
		t.Errorf("stderr holds a panic: %s", stderr.String())
	}
}

// Damaged captures (bytes flipped anywhere, files cut anywhere) end with a
// result or an error, never a panic, and never print raw control bytes.
func TestDamagedCaptures(t *testing.T) {
	data, err := os.ReadFile(demoCapture(t, "ws-ethernet-ipv4.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seed := uint32(1)
	next := func() uint32 { // xorshift: the same damage on every run
		seed ^= seed << 13
		seed ^= seed >> 17
		seed ^= seed << 5
		return seed
	}
	for i := 0; i < 150; i++ {
		b := append([]byte(nil), data...)
		for j := 0; j < 1+i%4; j++ {
			b[next()%uint32(len(b))] ^= byte(1 + next()%255)
		}
		if i%5 == 0 {
			b = b[:next()%uint32(len(b))]
		}
		path := filepath.Join(dir, fmt.Sprintf("damaged-%d.pcap", i))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, _, _ := runInProcess(t, nil, "-r", path, "--utc", "-v", "-x")
		if j := strings.IndexAny(stdout, "\x1b\x07\x00"); j >= 0 {
			t.Fatalf("damaged capture %d: raw control byte at %d of the output:\n%q", i, j, stdout)
		}
	}
}

// Once the output fails the command stops reading: a long capture is not
// decoded to its end for nothing.
func TestWriteErrorStopsReading(t *testing.T) {
	k := pcaptest.NewConn(
		pcaptest.Endpoint{IP: netip.MustParseAddr("192.0.2.1"), Port: 41000},
		pcaptest.Endpoint{IP: netip.MustParseAddr("192.0.2.2"), Port: 8080})
	k.Handshake()
	k.Send(true, pcaptest.UpgradeRequest("192.0.2.2:8080", "/", pcaptest.DemoKey))
	k.Send(false, pcaptest.UpgradeResponse(pcaptest.DemoKey))
	// Enough for the staged run, whose reader may be a few batches of
	// packets ahead of the output, to stop well before the end.
	const messages = 50000
	msg := pcaptest.ServerFrame(pcaptest.OpText, bytes.Repeat([]byte("x"), 100))
	for i := 0; i < messages; i++ {
		k.Send(false, msg)
	}
	k.Close()
	var b bytes.Buffer
	if err := k.Capture().WritePcap(&b, pcaptest.LinkEthernet, false); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "long.pcap")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// The whole output is over 5 MB; the writer fails at the first write.
	all, stderr, err := runInProcess(t, nil, "-r", path, "--utc")
	if err != nil || len(all) < 5_000_000 || !strings.HasPrefix(stderr, fmt.Sprintf("%d packets read,", messages+8)) {
		t.Fatalf("full run: err %v, %d bytes of output, stderr %q", err, len(all), stderr)
	}
	cfg, err := parseArgs([]string{"-r", path, "--utc"}, &bytes.Buffer{}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	var errOut bytes.Buffer
	err = run(t.Context(), cfg, nil, &failWriter{err: syscall.ENOSPC}, &errOut)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("run returned %v, want the write error", err)
	}
	var read int
	if _, err := fmt.Sscanf(errOut.String(), "%d packets read", &read); err != nil {
		t.Fatalf("stderr %q: %v", errOut.String(), err)
	}
	t.Logf("%d of the %d packets read before the run stopped", read, messages+8)
	if read >= messages/2 {
		t.Errorf("%d packets read after the output failed; want the run stopped well before the %d of the capture", read, messages+8)
	}
}
