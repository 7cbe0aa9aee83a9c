package pipeline

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/testutil"
)

// frameKey is what the peers' baselines say of a frame.
type frameKey struct {
	FromClient bool
	Fin        bool
	Rsv        uint8
	Opcode     dissect.Opcode
	Length     uint64
}

func (k frameKey) String() string {
	d := "s>c"
	if k.FromClient {
		d = "c>s"
	}
	return fmt.Sprintf("%s fin=%v rsv=%d %s len=%d", d, k.Fin, k.Rsv, k.Opcode, k.Length)
}

func keysOf(fs []dissect.Frame) []frameKey {
	var out []frameKey
	for _, f := range fs {
		out = append(out, frameKey{f.Dir == dissect.FromClient, f.Fin, f.Rsv, f.Opcode, f.Length})
	}
	return out
}

func diffKeys(t *testing.T, what string, got, want []frameKey) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	var b strings.Builder
	for i := 0; i < max(len(got), len(want)); i++ {
		g, w := "-", "-"
		if i < len(got) {
			g = got[i].String()
		}
		if i < len(want) {
			w = want[i].String()
		}
		mark := "  "
		if g != w {
			mark = "!="
		}
		fmt.Fprintf(&b, "  %3d %-45s %s %s\n", i, g, mark, w)
	}
	t.Errorf("%s: frames differ (got | want):\n%s", what, b.String())
}

// tsharkFrames asks tshark's WebSocket dissector for the frames of each
// conversation, keyed by "client server" endpoints as netip prints them.
type tsharkFrame struct {
	src   string
	dst   string
	key   frameKey
	mask  bool
	frame int
}

func tsharkWebSocketFrames(t *testing.T, path string) []tsharkFrame {
	t.Helper()
	out, err := exec.Command("tshark", "-n", "-r", path, "-Y", "websocket", "-T", "fields", "-E", "separator=|",
		"-e", "frame.number", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
		"-e", "websocket.fin", "-e", "websocket.rsv", "-e", "websocket.opcode", "-e", "websocket.mask",
		"-e", "websocket.payload_length", "-e", "websocket.payload_length_ext_16", "-e", "websocket.payload_length_ext_64").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var res []tsharkFrame
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "|")
		if len(f) != 14 {
			t.Fatalf("tshark line %q", sc.Text())
		}
		num, _ := strconv.Atoi(f[0])
		ep := func(v4, v6, port string) string {
			if v6 != "" {
				return "[" + v6 + "]:" + port
			}
			return v4 + ":" + port
		}
		src, dst := ep(f[1], f[2], f[3]), ep(f[4], f[5], f[6])
		fins, rsvs, ops, masks, lens := strings.Split(f[7], ","), strings.Split(f[8], ","), strings.Split(f[9], ","), strings.Split(f[10], ","), strings.Split(f[11], ",")
		ext16, ext64 := strings.Split(f[12], ","), strings.Split(f[13], ",")
		i16, i64 := 0, 0
		for i := range fins {
			rsv, _ := strconv.ParseUint(strings.TrimPrefix(rsvs[i], "0x"), 16, 8)
			op, _ := strconv.Atoi(ops[i])
			n, _ := strconv.ParseUint(lens[i], 10, 64)
			switch n {
			case 126:
				n, _ = strconv.ParseUint(ext16[i16], 10, 64)
				i16++
			case 127:
				n, _ = strconv.ParseUint(ext64[i64], 10, 64)
				i64++
			}
			res = append(res, tsharkFrame{src: src, dst: dst, frame: num, mask: masks[i] == "1",
				key: frameKey{Fin: fins[i] == "1", Rsv: uint8(rsv), Opcode: dissect.Opcode(op), Length: n}})
		}
	}
	return res
}

// TestCorpusFramesMatchTshark compares every frame wsdump decodes in the
// shared corpus with what tshark's WebSocket dissector reports: direction,
// FIN, RSV, opcode, mask bit and payload length.
func TestCorpusFramesMatchTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed: the frame comparison with tshark needs it (apt-get install tshark)")
	}
	for _, path := range testutil.SharedCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			sink, _ := runFile(t, path, Config{})
			want := tsharkWebSocketFrames(t, path)
			for _, c := range sink.convs {
				var w []frameKey
				var wmask []bool
				for _, tf := range want {
					switch {
					case tf.src == c.ref.Client && tf.dst == c.ref.Server:
						tf.key.FromClient = true
					case tf.src == c.ref.Server && tf.dst == c.ref.Client:
					default:
						continue
					}
					w = append(w, tf.key)
					wmask = append(wmask, tf.mask)
				}
				got := keysOf(c.frames)
				diffKeys(t, c.ref.Client+" > "+c.ref.Server, got, w)
				for i, f := range c.frames {
					if i < len(wmask) && f.Masked != wmask[i] {
						t.Errorf("%s frame %d: masked=%v; tshark says %v", c.ref.Client, i, f.Masked, wmask[i])
					}
				}
			}
			// Every frame tshark saw belongs to a conversation wsdump decoded.
			var n int
			for _, c := range sink.convs {
				n += len(c.frames)
			}
			if n != len(want) {
				t.Errorf("%d frames in all; tshark has %d\n%s", n, len(want), sink.dump())
			}
		})
	}
}

// zeekSection parses Zeek's btest "out" baselines: the websocket_frame lines of
// each capture section.
var zeekFrameLine = regexp.MustCompile(`^websocket_frame, \w+, ([TF]), fin, ([TF]), rsv, (\d+), opcode, (\w+), payload_len, (\d+)`)

func parseZeekOut(t *testing.T, path string) map[string][]frameKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]dissect.Opcode{"continuation": 0, "text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}
	res := map[string][]frameKey{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasSuffix(line, ".pcap") || strings.HasSuffix(line, ".pcapng") {
			section = line
			continue
		}
		m := zeekFrameLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		op, ok := ops[m[4]]
		if !ok {
			t.Fatalf("zeek opcode %q", m[4])
		}
		rsv, _ := strconv.Atoi(m[3])
		n, _ := strconv.ParseUint(m[5], 10, 64)
		res[section] = append(res[section], frameKey{m[1] == "T", m[2] == "T", uint8(rsv), op, n})
	}
	return res
}

// TestCorpusZeekBaselines compares with Zeek's own expected frame events.
func TestCorpusZeekBaselines(t *testing.T) {
	dir := testutil.SharedDir(t)
	check := func(pcap string, want []frameKey) {
		t.Run(pcap, func(t *testing.T) {
			sink, _ := runFile(t, filepath.Join(dir, "zeek", pcap), Config{})
			ws := sink.wsConvs()
			if len(ws) != 1 {
				t.Fatalf("%d WebSocket conversations; want 1\n%s", len(ws), sink.dump())
			}
			diffKeys(t, pcap, keysOf(ws[0].frames), want)
		})
	}
	events := parseZeekOut(t, filepath.Join(dir, "zeek/expected/websocket.events/out"))
	if len(events) < 5 {
		t.Fatalf("parsed %d sections of Zeek's events baseline; want 5", len(events))
	}
	for pcap, want := range events {
		check(pcap, want)
	}
	coalesced := parseZeekOut(t, filepath.Join(dir, "zeek/expected/websocket.coalesced-reply-ping/out-coalesced"))[""]
	separate := parseZeekOut(t, filepath.Join(dir, "zeek/expected/websocket.coalesced-reply-ping/out-separate"))[""]
	if len(coalesced) != 6 || !slices.Equal(coalesced, separate) {
		t.Fatalf("Zeek's coalesced/separate baselines: %d frames", len(coalesced))
	}
	check("reply-ping-coalesced.pcap", coalesced)
	check("reply-ping-separate.pcap", separate)
}

// TestCorpusPeerExpectations checks what the other analyzers' test suites
// expect of their captures, beyond frame headers.
func TestCorpusPeerExpectations(t *testing.T) {
	dir := testutil.SharedDir(t)
	one := func(t *testing.T, rel string) *recConv {
		t.Helper()
		sink, _ := runFile(t, filepath.Join(dir, rel), Config{})
		ws := sink.wsConvs()
		if len(ws) != 1 {
			t.Fatalf("%s: %d WebSocket conversations; want 1\n%s", rel, len(ws), sink.dump())
		}
		return ws[0]
	}
	msgs := func(c *recConv, d dissect.Direction, op dissect.Opcode) []string {
		var out []string
		for _, m := range c.messages {
			if m.Dir == d && m.Opcode == op {
				out = append(out, string(m.Payload))
			}
		}
		return out
	}

	t.Run("zeek/two-binary-fragments", func(t *testing.T) {
		c := one(t, "zeek/two-binary-fragments.pcap")
		if got := msgs(c, dissect.FromServer, dissect.OpBinary); !slices.Equal(got, []string{"Hello there!"}) {
			t.Errorf("server binary messages %q; want [\"Hello there!\"]", got)
		}
		if got := msgs(c, dissect.FromClient, dissect.OpBinary); !slices.Equal(got, []string{"Hello Zeek!"}) {
			t.Errorf("client binary messages %q", got)
		}
		for _, m := range c.messages {
			if m.Opcode == dissect.OpPong && !m.HasRTT {
				t.Errorf("pong %q not matched to the server's ping", m.Payload)
			}
		}
		if s := c.summary; !s.Close.Clean || s.Close.Code[0] != 1000 || s.Close.Code[1] != 1000 {
			t.Errorf("close %+v; want clean 1000/1000", s.Close)
		}
	})
	t.Run("zeek/message-too-big-status", func(t *testing.T) {
		c := one(t, "zeek/message-too-big-status.pcap")
		var closes []string
		for _, m := range c.messages {
			if m.Opcode == dissect.OpClose {
				closes = append(closes, fmt.Sprintf("%s %d %q", m.Dir, m.CloseCode, m.CloseReason))
			}
		}
		want := []string{`client 1009 "over size limit (4 > 2 bytes)"`, `server 1000 ""`}
		if !slices.Equal(closes, want) {
			t.Errorf("closes %q; want %q", closes, want)
		}
		if c.summary.Close.Initiator != dissect.FromClient {
			t.Errorf("close initiator %s; want client", c.summary.Close.Initiator)
		}
	})
	t.Run("zeek/jupyter-websocket", func(t *testing.T) {
		c := one(t, "zeek/jupyter-websocket.pcap")
		h := c.handshakes[0]
		if h.Key != "7K5Qx7HwJUsja5KzBhGvfQ==" || h.Accept != "USseDip1PofjB67M6I5CNkbYbp0=" || !h.AcceptValid {
			t.Errorf("key %q accept %q valid %v", h.Key, h.Accept, h.AcceptValid)
		}
		if h.Subprotocol != "v1.kernel.websocket.jupyter.org" || h.Host != "192.168.122.182" {
			t.Errorf("subprotocol %q host %q", h.Subprotocol, h.Host)
		}
		if len(h.OfferedExtensions) != 1 || h.OfferedExtensions[0].Name != "permessage-deflate" || len(h.AcceptedExtensions) != 0 {
			t.Errorf("extensions offered %+v accepted %+v", h.OfferedExtensions, h.AcceptedExtensions)
		}
		// Empty close frames both ways: no status code.
		if s := c.summary.Close; !s.Clean || s.HasCode[0] || s.HasCode[1] {
			t.Errorf("close %+v; want clean, without codes", s)
		}
	})
	t.Run("zeek/fragmented-http-reply", func(t *testing.T) {
		c := one(t, "zeek/fragmented-http-reply.pcap")
		got := msgs(c, dissect.FromServer, dissect.OpBinary)
		if len(got) != 1 || !strings.Contains(got[0], "Server: dont ask") || !strings.Contains(got[0], "Content-Length: 0") {
			t.Errorf("server message %q: want the HTTP reply reassembled from 5 frames", got)
		}
		for _, m := range c.messages {
			if m.Dir == dissect.FromServer && m.Opcode == dissect.OpBinary && m.Frames != 5 {
				t.Errorf("server message of %d frames; want 5", m.Frames)
			}
		}
	})
	t.Run("suricata/websocket-control-frag", func(t *testing.T) {
		c := one(t, "suricata-verify/websocket-control-frag/input.pcap")
		if got := msgs(c, dissect.FromClient, dissect.OpText); !slices.Equal(got, []string{"MALWARE_DOWNLOAD cmd.exe /c powershell -enc AAAA"}) {
			t.Errorf("client text %q", got)
		}
		// The crafted request's key decodes to 18 bytes, not 16.
		if v := c.codes(); !slices.Equal(v, []string{"ws.bad_key"}) {
			t.Errorf("violations %q; want [ws.bad_key]", v)
		}
	})
	t.Run("suricata/websocket-ping", func(t *testing.T) {
		c := one(t, "suricata-verify/websocket-ping/input.pcap")
		var ops []string
		for _, m := range c.messages {
			ops = append(ops, m.Dir.String()+":"+m.Opcode.String())
		}
		if want := []string{"client:ping", "server:text", "server:pong"}; !slices.Equal(ops, want) {
			t.Errorf("messages %q; want %q", ops, want)
		}
	})
	t.Run("suricata/websocket", func(t *testing.T) {
		c := one(t, "suricata-verify/websocket/basic_websockets.pcap")
		var keys []string
		for _, f := range c.frames {
			if f.Dir == dissect.FromClient {
				keys = append(keys, hex.EncodeToString(f.Mask[:]))
			}
		}
		if want := []string{"e2b695ed", "09db5957", "0213c33a"}; !slices.Equal(keys, want) {
			t.Errorf("client masking keys %q; want %q", keys, want)
		}
		var serverText, found int
		for _, m := range c.messages {
			if m.Dir == dissect.FromServer && m.Opcode == dissect.OpText {
				serverText++
				if strings.Contains(string(m.Payload), "version,hybi-draft-13") {
					found++
				}
			}
		}
		if serverText != 14 || found != 1 {
			t.Errorf("%d server text messages, %d with \"version,hybi-draft-13\"; want 14 and 1", serverText, found)
		}
	})
	t.Run("arkime/websocket", func(t *testing.T) {
		c := one(t, "arkime/websocket.pcap")
		var masked, payload int
		texts := map[string]bool{}
		for _, f := range c.frames {
			if f.Masked {
				masked++
			}
			payload += int(f.Length)
		}
		for _, m := range c.messages {
			texts[string(m.Payload)] = true
		}
		if len(c.frames) != 5 || masked != 2 || payload != 153 {
			t.Errorf("%d frames, %d masked, %d payload bytes; Arkime counts 5, 2, 153", len(c.frames), masked, payload)
		}
		for _, s := range []string{"21:33:52 ('192.168.43.1', 50999) say: test message", "Welcome, 192.168.43.1 !", "hello websocket", "test message"} {
			if !texts[s] {
				t.Errorf("no message %q", s)
			}
		}
	})
	t.Run("pcap2har", func(t *testing.T) {
		for _, tc := range []struct{ pcap, golden string }{
			{"pcap2har/websocket.pcap", "pcap2har/expected/test_websocket.py-test_websocket_parse"},
			{"pcap2har/ipv4-websocket-segmented.pcap", "pcap2har/expected/test_websocket.py-test_websocket_segmented"},
		} {
			c := one(t, tc.pcap)
			want := harMessages(t, filepath.Join(dir, tc.golden))
			var got []string
			for _, m := range c.messages {
				typ := "send"
				if m.Dir == dissect.FromServer {
					typ = "receive"
				}
				data := string(m.Payload)
				if m.Opcode == dissect.OpBinary {
					data = base64.StdEncoding.EncodeToString(m.Payload)
				}
				got = append(got, fmt.Sprintf("%s %d %.6f %s", typ, m.Opcode, float64(m.End.UnixMicro())/1e6, data))
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: messages\n%s\nwant (pcap2har)\n%s", tc.pcap, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	})
	t.Run("wireshark/follow-hex", func(t *testing.T) {
		// The uncompressed captures: every payload line of tshark's follow
		// output is found in wsdump's messages.
		for _, name := range []string{"websocket.pcapng.gz", "websocket-fragmented.pcapng.gz"} {
			c := one(t, "wireshark/"+name)
			want := followHexPayloads(t, filepath.Join(dir, "wireshark/expected", name+".follow_websocket_hex_0.txt"))
			// tshark's follow output runs the payloads of one direction
			// together until the other direction speaks: do the same.
			var got []string
			last := ""
			for _, m := range c.messages {
				if d := m.Dir.String(); d == last {
					got[len(got)-1] += string(m.Payload)
				} else {
					got = append(got, d+" "+string(m.Payload))
					last = d
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: messages\n%q\nwant\n%q", name, got, want)
			}
		}
	})
}

// harMessages reads the _webSocketMessages of a HAR file as
// "type opcode time data" lines.
func harMessages(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var har struct {
		Log struct {
			Entries []struct {
				Messages []struct {
					Type   string  `json:"type"`
					Time   float64 `json:"time"`
					Opcode int     `json:"opcode"`
					Data   string  `json:"data"`
				} `json:"_webSocketMessages"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &har); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, e := range har.Log.Entries {
		for _, m := range e.Messages {
			out = append(out, fmt.Sprintf("%s %d %.6f %s", m.Type, m.Opcode, m.Time, m.Data))
		}
	}
	return out
}

// followHexPayloads parses tshark's "follow,websocket,hex" text: blocks of
// hex dump lines, indented for the second node, into "client|server payload"
// strings, one per message.
func followHexPayloads(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur []byte
	curDir := ""
	flush := func() {
		if curDir != "" {
			out = append(out, curDir+" "+string(cur))
		}
		cur, curDir = nil, ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "===") || strings.HasPrefix(line, "Follow") || strings.HasPrefix(line, "Filter") || strings.HasPrefix(line, "Node") {
			continue
		}
		dir := "client"
		if strings.HasPrefix(line, "\t") {
			dir = "server"
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		if _, err := strconv.ParseUint(f[0], 16, 32); err != nil {
			continue
		}
		if dir != curDir {
			flush()
			curDir = dir
		}
		for _, h := range f[1:] {
			if len(h) != 2 {
				break
			}
			v, err := strconv.ParseUint(h, 16, 8)
			if err != nil {
				break
			}
			cur = append(cur, byte(v))
		}
	}
	flush()
	return out
}

// TestCorpusViolations checks the violations wsdump finds in the shared
// corpus: exactly the protocol breaks the captures are known for, and none
// in the clean ones.
func TestCorpusViolations(t *testing.T) {
	dir := testutil.SharedDir(t)
	for _, tc := range []struct {
		pcap string
		want []string // violation codes with direction, in order
	}{
		{"zeek/wrong-accept-header.pcap", []string{"server ws.accept_mismatch"}},
		// 258 bytes of close payload with a 64-bit length where 16 bits do.
		{"zeek/oversized-close-frame.pcapng", []string{"server ws.control_frame_too_long", "server ws.non_minimal_length"}},
		{"zeek/wstunnel-http.pcap", []string{"client ws.client_frame_unmasked", "client ws.client_frame_unmasked"}},
		{"suricata-verify/websocket-ping/input.pcap", []string{"client ws.client_frame_unmasked"}},
		{"zeek/jupyter-websocket.pcap", nil},
		{"zeek/broker-websocket.pcap", nil},
		{"pcap2har/websocket.pcap", nil},
	} {
		t.Run(tc.pcap, func(t *testing.T) {
			sink, _ := runFile(t, filepath.Join(dir, tc.pcap), Config{})
			var got []string
			for _, c := range sink.convs {
				for _, v := range c.violations {
					got = append(got, v.Dir.String()+" "+v.Code)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations %q; want %q\n%s", got, tc.want, sink.dump())
			}
		})
	}
}
