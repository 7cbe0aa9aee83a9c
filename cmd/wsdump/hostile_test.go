package main

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wsdump/wsdump/internal/pcaptest"
)

// maxRSS is the peak resident memory a run of wsdump may reach on any of the
// hostile captures.
const maxRSS = 256 << 20

var (
	hClient = pcaptest.Endpoint{IP: netip.MustParseAddr("10.1.0.1"), Port: 40000}
	hServer = pcaptest.Endpoint{IP: netip.MustParseAddr("10.1.0.2"), Port: 80}
	hMask   = [4]byte{1, 2, 3, 4}
)

// hostileConn starts a connection with its TCP and WebSocket handshakes.
func hostileConn(c *pcaptest.Capture, respExtra ...string) *pcaptest.Conn {
	k := pcaptest.NewConn(hClient, hServer, pcaptest.WithCapture(c))
	k.Handshake()
	var reqExtra []string
	if len(respExtra) > 0 {
		reqExtra = []string{"Sec-WebSocket-Extensions: permessage-deflate"}
	}
	k.Send(true, pcaptest.UpgradeRequest("h", "/", pcaptest.DemoKey, reqExtra...))
	k.Send(false, pcaptest.UpgradeResponse(pcaptest.DemoKey, respExtra...))
	return k
}

// runHostile writes c, runs the built wsdump on it with args, and checks
// that it did not panic and stayed under maxRSS.
func runHostile(t *testing.T, c *pcaptest.Capture, cut int, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var buf bytes.Buffer
	if err := c.WritePcap(&buf, pcaptest.LinkEthernet, false); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if cut > 0 {
		b = b[:len(b)-cut]
	}
	path := filepath.Join(t.TempDir(), "hostile.pcap")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(wsdumpBin, append([]string{"-r", path, "--utc", "-v"}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(errb.String(), "panic") || strings.Contains(errb.String(), "goroutine ") {
		t.Fatalf("wsdump panicked:\n%s", errb.String())
	}
	// wsdump -v says its peak memory (VmHWM: the rusage of a child also
	// counts the test process that started it).
	var mib float64
	if i := strings.Index(errb.String(), "peak memory: "); i >= 0 {
		fmt.Sscanf(errb.String()[i:], "peak memory: %f MiB", &mib)
	} else {
		t.Fatalf("no peak memory in the summary:\n%s", errb.String())
	}
	rss := int64(mib * (1 << 20))
	t.Logf("%d packets, %d bytes: peak RSS %.1f MiB", len(c.Packets), len(b), float64(rss)/(1<<20))
	if rss > maxRSS {
		t.Errorf("peak RSS %d MiB; limit %d MiB", rss>>20, maxRSS>>20)
	}
	return out.String(), errb.String(), code
}

// TestHostileCaptures runs wsdump on captures built to hurt it. Each keeps
// memory bounded, does not panic, and still reports what can be reported.
func TestHostileCaptures(t *testing.T) {
	if testing.Short() {
		t.Skip("large generated captures: not in -short mode")
	}
	t.Run("100000 half-open connections", func(t *testing.T) {
		c := pcaptest.NewCapture()
		c.Step = time.Microsecond
		for i := 0; i < 100000; i++ {
			cl := pcaptest.Endpoint{IP: netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), Port: uint16(1024 + i%60000)}
			k := pcaptest.NewConn(cl, hServer, pcaptest.WithCapture(c))
			k.Segment(true, -1, nil, pcaptest.SYN)
		}
		// In stages (the default) and in one thread.
		for _, workers := range []string{"2", "1"} {
			_, stderr, code := runHostile(t, c, 0, "-q", "--workers", workers)
			// The connections beyond the limit are counted, not tracked.
			if code != 0 || !strings.Contains(stderr, "65536 TCP conversations") || !strings.Contains(stderr, "34464 segments over the connection limit") {
				t.Errorf("--workers %s: exit %d, stderr:\n%s", workers, code, stderr)
			}
		}
	})
	t.Run("a frame announcing 2^63-1 bytes", func(t *testing.T) {
		c := pcaptest.NewCapture()
		k := hostileConn(c)
		hdr := []byte{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
		binary.BigEndian.PutUint64(hdr[2:], 1<<63-1)
		k.Send(true, append(hdr, bytes.Repeat([]byte{0xaa}, 100000)...))
		k.Close()
		stdout, _, code := runHostile(t, c, 0)
		if code != 0 || !strings.Contains(stdout, "binary 100000 incomplete") {
			t.Errorf("exit %d; want the cut message reported incomplete:\n%s", code, stdout)
		}
	})
	t.Run("10000 fragments in one message", func(t *testing.T) {
		c := pcaptest.NewCapture()
		k := hostileConn(c)
		var b []byte
		for i := 0; i < 10000; i++ {
			op := uint8(pcaptest.OpCont)
			if i == 0 {
				op = pcaptest.OpText
			}
			b = pcaptest.Frame{Fin: i == 9999, Opcode: op, Masked: true, Mask: hMask, Payload: []byte("ab")}.Append(b)
		}
		k.Send(true, b)
		k.Close()
		stdout, _, code := runHostile(t, c, 0)
		if code != 0 || !strings.Contains(stdout, "text 20000 frames=10000") {
			t.Errorf("exit %d; want one text message of 10000 frames:\n%.2000s", code, stdout)
		}
	})
	t.Run("a ping flood", func(t *testing.T) {
		c := pcaptest.NewCapture()
		k := hostileConn(c)
		var b []byte
		for i := 0; i < 100000; i++ {
			b = pcaptest.Frame{Fin: true, Opcode: pcaptest.OpPing, Masked: true, Mask: hMask, Payload: []byte{byte(i), byte(i >> 8)}}.Append(b)
		}
		k.Send(true, b)
		k.Close()
		_, stderr, code := runHostile(t, c, 0, "-q")
		if code != 0 || !strings.Contains(stderr, "100000 messages") {
			t.Errorf("exit %d, stderr:\n%s", code, stderr)
		}
	})
	t.Run("a decompression bomb", func(t *testing.T) {
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, flate.BestCompression)
		zeros := make([]byte, 1<<20)
		for i := 0; i < 100; i++ {
			w.Write(zeros)
		}
		w.Flush()
		p := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
		c := pcaptest.NewCapture()
		k := hostileConn(c, "Sec-WebSocket-Extensions: permessage-deflate")
		k.Send(true, pcaptest.Frame{Fin: true, Rsv: 4, Opcode: pcaptest.OpBinary, Masked: true, Mask: hMask, Payload: p}.Bytes())
		k.Send(true, pcaptest.ClientFrame(pcaptest.OpText, []byte("after the bomb"), hMask))
		k.Close()
		stdout, _, code := runHostile(t, c, 0)
		t.Logf("bomb: %d compressed bytes inflating to 100 MiB", len(p))
		if code != 0 || !strings.Contains(stdout, "ws.inflate_limit") || !strings.Contains(stdout, `"after the bomb"`) {
			t.Errorf("exit %d; want the bomb cut at the limit and the next message decoded:\n%s", code, stdout)
		}
	})
	t.Run("a gap every 10 segments", func(t *testing.T) {
		c := pcaptest.NewCapture()
		k := hostileConn(c)
		var b []byte
		for i := 0; i < 2000; i++ {
			b = append(b, pcaptest.ClientFrame(pcaptest.OpText, bytes.Repeat([]byte{'a' + byte(i%26)}, 300+i%500), hMask)...)
		}
		first := len(c.Packets)
		k.Send(true, b)
		k.Close()
		var kept []pcaptest.Packet
		for i, p := range c.Packets {
			if i < first || (i-first)%10 != 9 {
				kept = append(kept, p)
			}
		}
		c.Packets = kept
		stdout, _, code := runHostile(t, c, 0)
		gaps, resyncs := strings.Count(stdout, " GAP "), strings.Count(stdout, "ws.resync")
		texts := len(regexp.MustCompile(`(?m)> \S+ text \d+ "`).FindAllString(stdout, -1))
		t.Logf("%d gaps, %d resyncs, %d text messages of 2000", gaps, resyncs, texts)
		if code != 0 || gaps < 50 || resyncs < gaps/2 || texts < 1000 {
			t.Errorf("exit %d: %d gaps, %d resyncs, %d messages", code, gaps, resyncs, texts)
		}
	})
	t.Run("a file cut in the middle of a packet", func(t *testing.T) {
		c := pcaptest.NewCapture()
		k := hostileConn(c)
		k.Send(true, pcaptest.ClientFrame(pcaptest.OpText, []byte("before the cut"), hMask))
		k.Send(false, pcaptest.ServerFrame(pcaptest.OpText, bytes.Repeat([]byte("x"), 500)))
		stdout, stderr, code := runHostile(t, c, 100)
		if code != 1 || !strings.Contains(stderr, "truncated") || !strings.Contains(stdout, `"before the cut"`) {
			t.Errorf("exit %d; want 1, the cut named and what came before it decoded:\n%s\n%s", code, stdout, stderr)
		}
	})
	t.Run("timestamps that go backwards", func(t *testing.T) {
		c := pcaptest.NewCapture()
		k := hostileConn(c)
		for i := 0; i < 50; i++ {
			k.Send(true, pcaptest.ClientFrame(pcaptest.OpText, []byte("tick"), hMask))
			k.Send(false, pcaptest.ServerFrame(pcaptest.OpText, []byte("tock")))
		}
		k.Close()
		for i := range c.Packets {
			if i%3 == 1 {
				c.Packets[i].Time = c.Packets[i].Time.Add(-time.Hour)
			}
		}
		stdout, _, code := runHostile(t, c, 0)
		if code != 0 || strings.Count(stdout, `"tick"`) != 50 || strings.Count(stdout, `"tock"`) != 50 {
			t.Errorf("exit %d; want all 100 messages:\n%s", code, stdout)
		}
	})
}
