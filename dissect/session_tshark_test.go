package dissect

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// tsharkFrame is the part of a frame header both tshark and the session
// report without ambiguity: the 7-bit length field stands for the length
// form (126 and 127 announce the extended forms).
type tsharkFrame struct {
	fin      bool
	opcode   Opcode
	masked   bool
	lenForm7 uint64
}

func (f tsharkFrame) String() string {
	return fmt.Sprintf("fin=%v op=%s mask=%v lenForm7=%d", f.fin, f.opcode, f.masked, f.lenForm7)
}

// tsharkPortFrame is a frame tshark found, with the TCP source port of the
// segment that carried it.
type tsharkPortFrame struct {
	srcPort int
	frame   tsharkFrame
}

// tsharkFrames lists the WebSocket frames tshark finds in a capture, per TCP
// stream, in capture order.
func tsharkFrames(t *testing.T, tshark, pcap string) map[int][]tsharkPortFrame {
	out, err := exec.Command(tshark, "-r", pcap, "-Y", "websocket", "-T", "fields",
		"-e", "tcp.stream", "-e", "tcp.srcport",
		"-e", "websocket.fin", "-e", "websocket.opcode", "-e", "websocket.mask", "-e", "websocket.payload_length").Output()
	if err != nil {
		t.Fatalf("tshark fields: %v", err)
	}
	res := map[int][]tsharkPortFrame{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 6 {
			t.Fatalf("tshark line %q", sc.Text())
		}
		stream, _ := strconv.Atoi(f[0])
		port, _ := strconv.Atoi(f[1])
		fins, ops, masks, lens := strings.Split(f[2], ","), strings.Split(f[3], ","), strings.Split(f[4], ","), strings.Split(f[5], ",")
		if len(ops) != len(fins) || len(masks) != len(fins) || len(lens) != len(fins) {
			t.Fatalf("tshark fields do not line up: %q", sc.Text())
		}
		for i := range fins {
			op, _ := strconv.Atoi(ops[i])
			n, _ := strconv.ParseUint(lens[i], 10, 64)
			res[stream] = append(res[stream], tsharkPortFrame{port, tsharkFrame{
				fin: fins[i] == "1" || fins[i] == "True", opcode: Opcode(op),
				masked: masks[i] == "1" || masks[i] == "True", lenForm7: n}})
		}
	}
	return res
}

// tsharkStream is one TCP stream as tshark's "follow,tcp,raw" gives it:
// node 0 (taken as the client) and its bytes, and the bytes of node 1.
type tsharkStream struct {
	clientPort int
	data       [2][]byte
	chunks     []tsharkChunk // in capture order
}

type tsharkChunk struct {
	dir  Direction
	data []byte
}

// tsharkStreams reassembles the given TCP streams of a capture with tshark.
func tsharkStreams(t *testing.T, tshark, pcap string, streams []int) map[int]*tsharkStream {
	args := []string{"-r", pcap, "-q"}
	for _, s := range streams {
		args = append(args, "-z", fmt.Sprintf("follow,tcp,raw,%d", s))
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark follow: %v", err)
	}
	res := map[int]*tsharkStream{}
	cur := -1
	var ts *tsharkStream
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Filter: tcp.stream eq "):
			cur, _ = strconv.Atoi(strings.TrimPrefix(line, "Filter: tcp.stream eq "))
			ts = &tsharkStream{}
			res[cur] = ts
		case strings.HasPrefix(line, "====="):
			cur = -1
		case cur >= 0 && strings.HasPrefix(line, "Node 0: "):
			addr := strings.TrimPrefix(line, "Node 0: ")
			ts.clientPort, _ = strconv.Atoi(addr[strings.LastIndex(addr, ":")+1:])
		case cur >= 0 && (strings.HasPrefix(line, "Node ") || strings.HasPrefix(line, "Follow:")):
		case cur >= 0 && line != "":
			dir := FromClient
			if strings.HasPrefix(line, "\t") {
				dir = FromServer
			}
			b, err := hex.DecodeString(strings.TrimSpace(line))
			if err != nil {
				t.Fatalf("follow line %q: %v", line, err)
			}
			ts.data[dir] = append(ts.data[dir], b...)
			ts.chunks = append(ts.chunks, tsharkChunk{dir, b})
		}
	}
	return res
}

// splitUpgradeHeadFrames removes the header block of the opening handshake.
func splitUpgradeHeadFrames(b []byte) (head, rest []byte, ok bool) {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return nil, nil, false
	}
	return b[:i+4], b[i+4:], true
}

// TestSessionAgainstTshark decodes the WebSocket streams of real captures
// and compares every frame header with what tshark reports. Set
// WSDUMP_TSHARK_ALL=1 to run it on more captures (slower).
func TestSessionAgainstTshark(t *testing.T) {
	if testing.Short() {
		t.Skip("runs tshark: skipped in -short mode")
	}
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed")
	}
	root := sharedPcapsFrames(t)
	// What the other analyzers' test suites expect of some captures
	// (../shared/pcaps/README.md), checked on top of the frame headers.
	checks := map[string]func(t *testing.T, rec *recordSinkFrames, sum *Summary){
		"zeek/oversized-close-frame.pcapng": func(t *testing.T, rec *recordSinkFrames, sum *Summary) {
			// A server close of 258 bytes in the 64-bit length form.
			want := []string{"server ws.control_frame_too_long@0", "server ws.non_minimal_length@0"}
			if got := rec.violations(); !reflect.DeepEqual(got, want) {
				t.Errorf("violations %q; want %q", got, want)
			}
			if c := sum.Close; !c.HasCode[FromServer] || c.Code[FromServer] != 1000 || c.Reason[FromServer] != strings.Repeat("C", 256) || c.Clean {
				t.Errorf("close %+v", c)
			}
		},
		"zeek/wstunnel-http.pcap": func(t *testing.T, rec *recordSinkFrames, sum *Summary) {
			// wstunnel does not mask its client frames.
			want := []string{"client ws.client_frame_unmasked@0", "client ws.client_frame_unmasked@1"}
			if got := rec.violations(); !reflect.DeepEqual(got, want) {
				t.Errorf("violations %q; want %q", got, want)
			}
		},
		"zeek/message-too-big-status.pcap": func(t *testing.T, rec *recordSinkFrames, sum *Summary) {
			c := sum.Close
			if c.Code != [2]uint16{1009, 1000} || c.Reason[FromClient] != "over size limit (4 > 2 bytes)" || !c.Clean || c.Initiator != FromClient {
				t.Errorf("close %+v", c)
			}
		},
		"zeek/two-binary-fragments.pcap": func(t *testing.T, rec *recordSinkFrames, sum *Summary) {
			var frag, pong bool
			for _, m := range rec.messages() {
				if m.Dir == FromServer && m.Opcode == OpBinary {
					frag = m.Frames == 2 && string(m.Payload) == "Hello there!"
				}
				if m.Dir == FromClient && m.Opcode == OpPong {
					pong = m.HasRTT && string(m.Payload) == "Zeek"
				}
			}
			if !frag || !pong || len(rec.violations()) != 0 {
				t.Errorf("fragmented message ok %v, pong matched %v, violations %v", frag, pong, rec.violations())
			}
		},
	}
	captures := []string{
		"zeek/two-binary-fragments.pcap",
		"zeek/jupyter-websocket.pcap",
		"zeek/oversized-close-frame.pcapng",
		"zeek/wstunnel-http.pcap",
	}
	if os.Getenv("WSDUMP_TSHARK_ALL") != "" {
		captures = append(captures,
			"zeek/wstunnel-ssh.pcap",
			"suricata-verify/websocket-compressed/example_websocket.pcap",
			"zeek/fragmented-http-reply.pcap",
			"zeek/message-too-big-status.pcap",
			"suricata-verify/websocket/basic_websockets.pcap",
			"wireshark/websocket-fragmented.pcapng.gz",
			"ndn-tools/ipv6-websocket-segmented.pcap",
		)
	}
	for _, name := range captures {
		t.Run(filepath.Base(name), func(t *testing.T) {
			pcap := filepath.Join(root, name)
			want := tsharkFrames(t, tshark, pcap)
			var streams []int
			for s := range want {
				streams = append(streams, s)
			}
			sort.Ints(streams)
			if len(streams) == 0 {
				t.Fatalf("tshark finds no WebSocket frame in %s", name)
			}
			raw := tsharkStreams(t, tshark, pcap, streams)
			for _, st := range streams {
				ts := raw[st]
				if ts == nil || ts.clientPort == 0 {
					t.Fatalf("stream %d: tshark follow output not understood", st)
				}
				var wantDir [2][]tsharkFrame
				for _, pf := range want[st] {
					d := FromServer
					if pf.srcPort == ts.clientPort {
						d = FromClient
					}
					wantDir[d] = append(wantDir[d], pf.frame)
				}
				cHead, cBody, ok1 := splitUpgradeHeadFrames(ts.data[FromClient])
				sHead, sBody, ok2 := splitUpgradeHeadFrames(ts.data[FromServer])
				if !ok1 || !ok2 || !bytes.HasPrefix(cHead, []byte("GET ")) || !bytes.HasPrefix(sHead, []byte("HTTP/1.1 101")) {
					t.Fatalf("stream %d: no upgrade handshake where expected", st)
				}
				var opt sessionOptions
				if bytes.Contains(bytes.ToLower(sHead), []byte("permessage-deflate")) {
					opt.AllowedRSV = 0x4
				}
				cfg := DefaultConfig()
				s, rec := newTestWSSession(cfg, opt)
				// Feed the segments in capture order, without the
				// handshake, so that pongs follow their pings.
				skip := [2]int{len(cHead), len(sHead)}
				for _, c := range ts.chunks {
					b := c.data
					k := min(skip[c.dir], len(b))
					skip[c.dir] -= k
					s.feed(c.dir, b[k:], frameT0)
				}
				var sum Summary
				s.end(EndFIN, frameT0, &sum)
				var got [2][]tsharkFrame
				for _, f := range rec.frames() {
					l7 := f.Length
					switch f.HeaderLen - 4*boolToIntFrames(f.Masked) {
					case 4:
						l7 = 126
					case 10:
						l7 = 127
					}
					got[f.Dir] = append(got[f.Dir], tsharkFrame{fin: f.Fin, opcode: f.Opcode, masked: f.Masked, lenForm7: l7})
				}
				for d := range got {
					if !reflect.DeepEqual(got[d], wantDir[d]) {
						t.Errorf("stream %d %s: frames\n got %v\nwant %v", st, Direction(d), got[d], wantDir[d])
					}
					if sum.Stats[d].WireBytes != uint64(len([][]byte{cBody, sBody}[d])) {
						t.Errorf("stream %d %s: %d wire bytes decoded of %d", st, Direction(d), sum.Stats[d].WireBytes, len([][]byte{cBody, sBody}[d]))
					}
				}
				if check := checks[name]; check != nil {
					check(t, rec, &sum)
				}
				t.Logf("stream %d: %d+%d frames, %d+%d messages, violations %v, close %+v",
					st, len(got[0]), len(got[1]), sum.Stats[0].Messages+sum.Stats[0].Controls, sum.Stats[1].Messages+sum.Stats[1].Controls, rec.violations(), sum.Close)
			}
		})
	}
}

func boolToIntFrames(b bool) int {
	if b {
		return 1
	}
	return 0
}
