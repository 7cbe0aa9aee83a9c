package pipeline

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/testutil"
)

// nodeWSVersion is the version of Node's ws package pinned in
// testdata/nodews/package.json.
const nodeWSVersion = "8.18.3"

// nodeThreshold is the size from which ws compresses a message (the first
// frame of a fragmented one) when the sender does not keep its context:
// smaller ones then go out uncompressed.
const nodeThreshold = 64

// nodeMessage is one message of the plan given to testdata/nodews/peer.js.
type nodeMessage struct {
	Binary bool   `json:"binary"`
	Data   []byte `json:"data"` // base64 in JSON
	Parts  int    `json:"parts,omitempty"`
	// Compress is the compress option both peers send the message with.
	Compress bool `json:"compress"`
}

// compressed reports whether ws sends m compressed: as asked when the
// sender keeps its context, and otherwise only when the first frame reaches
// the threshold.
func (m nodeMessage) compressed(noTakeover bool) bool {
	return m.Compress && (!noTakeover || m.overThreshold())
}

// overThreshold reports whether the first frame of m reaches the threshold.
func (m nodeMessage) overThreshold() bool {
	n := max(m.Parts, 1)
	return (len(m.Data)+n-1)/n >= nodeThreshold
}

// nodeMode is one connection: the perMessageDeflate options of each side
// and what the handshake must show, by direction.
type nodeMode struct {
	Name           string         `json:"name"`
	Server         map[string]any `json:"server"`
	Client         map[string]any `json:"client"`
	wantBits       [2]int
	wantNoTakeover [2]bool
}

// nodeModes lists the compression modes: each window size on each side, and
// context takeover turned off on one side, on both and on none.
func nodeModes() []nodeMode {
	var modes []nodeMode
	for bits := 8; bits <= 15; bits++ {
		modes = append(modes, nodeMode{
			Name:     "server_max_window_bits=" + strconv.Itoa(bits),
			Server:   map[string]any{"serverMaxWindowBits": bits},
			Client:   map[string]any{"serverMaxWindowBits": bits},
			wantBits: [2]int{15, bits},
		}, nodeMode{
			Name:     "client_max_window_bits=" + strconv.Itoa(bits),
			Server:   map[string]any{"clientMaxWindowBits": bits},
			Client:   map[string]any{"clientMaxWindowBits": bits},
			wantBits: [2]int{bits, 15},
		})
	}
	return append(modes,
		// The server decides on its own not to keep its context.
		nodeMode{Name: "server_no_context_takeover", Server: map[string]any{"serverNoContextTakeover": true}, Client: map[string]any{},
			wantBits: [2]int{15, 15}, wantNoTakeover: [2]bool{false, true}},
		// The client asks not to keep its own context.
		nodeMode{Name: "client_no_context_takeover", Server: map[string]any{}, Client: map[string]any{"clientNoContextTakeover": true},
			wantBits: [2]int{15, 15}, wantNoTakeover: [2]bool{true, false}},
		nodeMode{Name: "no_context_takeover_both", Server: map[string]any{"serverNoContextTakeover": true, "clientNoContextTakeover": true}, Client: map[string]any{},
			wantBits: [2]int{15, 15}, wantNoTakeover: [2]bool{true, true}},
		nodeMode{Name: "takeover_both", Server: map[string]any{}, Client: map[string]any{},
			wantBits: [2]int{15, 15}},
	)
}

// Indexes of messages of nodeMessages that the checks refer to.
const (
	nodeMsgWords  = 0 // repeated as nodeMsgRepeat: context takeover pays off
	nodeMsgRepeat = 1
	nodeMsgLarge  = 5 // 100 KB of text, far over the smallest windows
)

// nodeMessages returns what the client sends: compressible text, its
// repetition, JSON, incompressible and compressible binary, 100 KB of text,
// an empty message, small messages below the threshold, the sizes on both
// sides of the threshold and fragmented compressed messages.
func nodeMessages() []nodeMessage {
	r := rand.New(rand.NewPCG(7, 6455))
	vocabulary := strings.Fields("frame mask opcode payload deflate window context takeover server client " +
		"handshake upgrade close ping pong text binary message extension fragment header length capture")
	words := func(n int) []byte {
		var b []byte
		for len(b) < n {
			b = append(b, vocabulary[r.IntN(len(vocabulary))]...)
			b = append(b, ' ')
		}
		return b[:n]
	}
	type item struct {
		ID    int     `json:"id"`
		Name  string  `json:"name"`
		Price float64 `json:"price"`
		Tags  []string
	}
	var items []item
	for i := range 40 {
		items = append(items, item{ID: i, Name: string(words(12)), Price: float64(r.IntN(10000)) / 100, Tags: []string{"a", "b"}})
	}
	js, err := json.Marshal(items)
	if err != nil {
		panic(err)
	}
	noise := make([]byte, 4096)
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
	pattern := make([]byte, 8192)
	for i := range pattern {
		pattern[i] = byte(i % 251)
	}
	first := words(1500)
	msgs := []nodeMessage{
		nodeMsgWords:  {Data: first},
		nodeMsgRepeat: {Data: bytes.Clone(first)},
		{Data: js},
		{Binary: true, Data: noise},
		{Binary: true, Data: pattern},
		nodeMsgLarge: {Data: words(100 << 10)},
		{Data: []byte{}},
		{Data: []byte("hi")},
		{Binary: true, Data: []byte{0, 1, 2, 3, 0xff, 0xfe, 0x80, 0x7f, 0, 0}},
		{Data: []byte(`{"ok":true}`)},
		{Data: words(nodeThreshold - 1)},
		{Data: words(nodeThreshold)},
		{Data: words(6000), Parts: 3},
		{Binary: true, Data: bytes.Repeat([]byte{1, 2, 3, 4, 5}, 60), Parts: 2},
	}
	for i := range msgs {
		// Compressed from the threshold up, whatever the context mode.
		msgs[i].Compress = msgs[i].overThreshold()
	}
	// Small messages compressed all the same: ws sends them so when the
	// sender keeps its context, and plain when it does not.
	return append(msgs,
		nodeMessage{Data: []byte{}, Compress: true},
		nodeMessage{Data: []byte("ok"), Compress: true},
		nodeMessage{Binary: true, Data: []byte{0}, Compress: true},
		nodeMessage{Data: []byte("last"), Compress: true},
	)
}

// nodeGreeting is what the server sends first on every connection.
func nodeGreeting() nodeMessage {
	return nodeMessage{Data: bytes.Repeat([]byte("greetings from the ws server; "), 20), Compress: true}
}

// nodeWSModules returns the folder holding node_modules/ws at the pinned
// version, installing it with npm into the user's cache folder when it is
// not there yet. It skips the test when node or npm is missing or the
// install fails.
func nodeWSModules(t *testing.T) (node string, modules string) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the tests against Node's ws package need node and npm")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: the tests against Node's ws package need node and npm")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "wsdump-test", "nodews-"+nodeWSVersion)
	if wsVersion(filepath.Join(dir, "node_modules")) == nodeWSVersion {
		return node, filepath.Join(dir, "node_modules")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Skipf("cannot create the npm cache folder: %v", err)
	}
	// Install into a fresh folder and move it in place, so that a failed or
	// concurrent install never leaves a half-filled folder behind.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Skipf("cannot create the npm install folder: %v", err)
	}
	defer os.RemoveAll(tmp)
	pkg, err := os.ReadFile(filepath.Join("testdata", "nodews", "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "package.json"), pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--ignore-scripts",
		"--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=3000")
	cmd.Dir = tmp
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm install ws@%s failed, the tests against Node's ws package are skipped: %v\n%s", nodeWSVersion, err, out)
	}
	if v := wsVersion(filepath.Join(tmp, "node_modules")); v != nodeWSVersion {
		t.Fatalf("npm installed ws %q; want %s", v, nodeWSVersion)
	}
	if err := os.Rename(tmp, dir); err != nil && wsVersion(filepath.Join(dir, "node_modules")) != nodeWSVersion {
		t.Fatalf("moving the ws install in place: %v", err)
	}
	return node, filepath.Join(dir, "node_modules")
}

// wsVersion returns the version of the ws package under modules, or "".
func wsVersion(modules string) string {
	b, err := os.ReadFile(filepath.Join(modules, "ws", "package.json"))
	if err != nil {
		return ""
	}
	var p struct{ Version string }
	if json.Unmarshal(b, &p) != nil {
		return ""
	}
	return p.Version
}

// nodeRun is what testdata/nodews/peer.js reported: each side's received
// messages, by mode.
type nodeRun struct {
	Received map[string]struct {
		Client [][]byte `json:"client"`
		Server [][]byte `json:"server"`
	} `json:"received"`
}

// runNodePeers runs peer.js with the plan, capturing every connection on
// loopback, and returns the capture, the server port of each mode and what
// the peers received.
func runNodePeers(t *testing.T, node, modules string, modes []nodeMode, greeting nodeMessage, msgs []nodeMessage) (string, map[string]int, nodeRun) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("capturing on loopback needs root: run the tests as root to include the captures of Node's ws")
	}
	plan, err := json.Marshal(map[string]any{"threshold": nodeThreshold, "modes": modes, "greeting": greeting, "messages": msgs})
	if err != nil {
		t.Fatal(err)
	}
	planPath := filepath.Join(t.TempDir(), "plan.json")
	if err := os.WriteFile(planPath, plan, 0o644); err != nil {
		t.Fatal(err)
	}
	script, err := filepath.Abs(filepath.Join("testdata", "nodews", "peer.js"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, planPath)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node: %v", err)
	}
	defer cmd.Wait()
	defer cancel()
	// fail stops node before reading what it wrote to stderr.
	fail := func(format string, args ...any) {
		t.Helper()
		cancel()
		cmd.Wait()
		t.Fatalf(format+"\nnode's stderr:\n%s", append(args, stderr)...)
	}
	out := bufio.NewReader(stdout)
	line, err := out.ReadBytes('\n')
	if err != nil {
		fail("peer.js did not report its ports: %v", err)
	}
	var ready struct{ Ports map[string]int }
	if err := json.Unmarshal(line, &ready); err != nil || len(ready.Ports) != len(modes) {
		fail("peer.js ports %q: %v", line, err)
	}
	var filter []string
	for _, p := range ready.Ports {
		filter = append(filter, "tcp port "+strconv.Itoa(p))
	}
	td := testutil.StartTcpdump(t, "lo", strings.Join(filter, " or "))
	if _, err := stdin.Write([]byte("go\n")); err != nil {
		fail("peer.js: %v", err)
	}
	line, err = out.ReadBytes('\n')
	if err != nil {
		fail("peer.js: %v", err)
	}
	var run nodeRun
	if err := json.Unmarshal(line, &run); err != nil {
		fail("peer.js result: %v", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("peer.js: %v\nnode's stderr:\n%s", err, stderr)
	}
	return td.Stop(t), ready.Ports, run
}

// TestDeflateNodeWS captures Node's ws client and server with
// permessage-deflate on loopback, with every window size on each side and
// with context takeover turned off on either side alone, and checks that
// every message decodes to what was sent with the parameters negotiated.
func TestDeflateNodeWS(t *testing.T) {
	if testing.Short() {
		t.Skip("captures real peers: not in -short mode")
	}
	node, modules := nodeWSModules(t)
	modes := nodeModes()
	greeting := nodeGreeting()
	msgs := nodeMessages()
	path, ports, run := runNodePeers(t, node, modules, modes, greeting, msgs)

	cfg := Config{Dissect: dissect.DefaultConfig()}
	cfg.Dissect.MaxPayload = 0
	sink, _ := runFile(t, path, cfg)
	byPort := map[string]*recConv{}
	for _, c := range sink.wsConvs() {
		_, port, _ := strings.Cut(c.ref.Server, ":")
		byPort[port] = c
	}
	if len(byPort) != len(modes) {
		t.Fatalf("%d WebSocket conversations; want %d", len(byPort), len(modes))
	}

	// wire holds the compressed size of some messages by mode and
	// direction, for the checks across modes below.
	type sizes struct{ words, repeat, large [2]uint64 }
	wire := map[string]sizes{}
	want := [2][]nodeMessage{dissect.FromClient: msgs, dissect.FromServer: append([]nodeMessage{greeting}, msgs...)}
	for _, mode := range modes {
		t.Run(mode.Name, func(t *testing.T) {
			// The peers themselves must agree on what was said.
			got := run.Received[mode.Name]
			for d, rcv := range [2][][]byte{dissect.FromClient: got.Server, dissect.FromServer: got.Client} {
				if len(rcv) != len(want[d]) {
					t.Fatalf("the %s peer received %d messages; %d were sent", dissect.Direction(d).Opposite(), len(rcv), len(want[d]))
				}
				for i, m := range want[d] {
					if !bytes.Equal(rcv[i], m.Data) {
						t.Fatalf("the %s peer received message %d differently from what was sent", dissect.Direction(d).Opposite(), i)
					}
				}
			}

			c := byPort[strconv.Itoa(ports[mode.Name])]
			if c == nil {
				t.Fatalf("no WebSocket conversation on port %d", ports[mode.Name])
			}
			h := c.handshakes[0]
			if h.Deflate == nil {
				t.Fatalf("no compression negotiated: %+v", h.AcceptedExtensions)
			}
			if h.Deflate.Extension != "permessage-deflate" || h.Deflate.PerFrame ||
				h.Deflate.MaxWindowBits != mode.wantBits || h.Deflate.NoContextTakeover != mode.wantNoTakeover {
				t.Errorf("negotiated %+v from %+v; want max window bits %v, no context takeover %v",
					*h.Deflate, h.AcceptedExtensions, mode.wantBits, mode.wantNoTakeover)
			}
			for _, v := range c.violations {
				t.Errorf("violation %s", v.String())
			}
			for _, g := range c.gaps {
				t.Errorf("gap %+v", g)
			}

			var sz sizes
			for d := range 2 {
				dir := dissect.Direction(d)
				var data []dissect.Message
				for _, m := range c.messages {
					if m.Dir == dir && !m.Opcode.IsControl() {
						data = append(data, m)
					}
				}
				if len(data) != len(want[d]) {
					t.Fatalf("%s: %d data messages; %d were sent", dir, len(data), len(want[d]))
				}
				for i, w := range want[d] {
					g := data[i]
					op, frames := dissect.OpText, max(w.Parts, 1)
					if w.Binary {
						op = dissect.OpBinary
					}
					if dir == dissect.FromServer {
						frames = 1 // the server echoes whole messages
					}
					if g.Opcode != op || !bytes.Equal(g.Payload, w.Data) || g.Length != uint64(len(w.Data)) || g.Truncated || g.Incomplete {
						t.Errorf("%s message %d: %s of %d bytes (kept %d, truncated %v, incomplete %v); sent %s of %d bytes, equal=%v",
							dir, i, g.Opcode, g.Length, len(g.Payload), g.Truncated, g.Incomplete, op, len(w.Data), bytes.Equal(g.Payload, w.Data))
					}
					wantCompressed := w.compressed(mode.wantNoTakeover[d])
					if g.Compressed != wantCompressed || g.Inflated != wantCompressed || g.InflateErr != "" {
						t.Errorf("%s message %d of %d bytes: compressed %v, inflated %v, error %q; want compressed and inflated %v",
							dir, i, len(w.Data), g.Compressed, g.Inflated, g.InflateErr, wantCompressed)
					}
					if g.Frames != frames {
						t.Errorf("%s message %d: %d frames; want %d", dir, i, g.Frames, frames)
					}
					if op == dissect.OpText && !g.ValidUTF8 {
						t.Errorf("%s message %d: not valid UTF-8", dir, i)
					}
				}
				off := d // the server's greeting comes first
				sz.words[d] = data[off+nodeMsgWords].WirePayload
				sz.repeat[d] = data[off+nodeMsgRepeat].WirePayload
				sz.large[d] = data[off+nodeMsgLarge].WirePayload
				if sz.large[d] >= uint64(len(msgs[nodeMsgLarge].Data))/2 {
					t.Errorf("%s: 100 KB of text compressed to %d bytes only", dir, sz.large[d])
				}

				st := c.summary.Stats[d]
				if st.OutOfSync || st.GapBytes != 0 || st.UndecodedTail != 0 || st.Violations != 0 {
					t.Errorf("%s: out of sync %v, gap bytes %d, undecoded %d, violations %d", dir, st.OutOfSync, st.GapBytes, st.UndecodedTail, st.Violations)
				}
			}
			if cl := c.summary.Close; !cl.Clean || cl.Initiator != dissect.FromClient || cl.Code != [2]uint16{1000, 1000} {
				t.Errorf("close %+v; want a clean close with 1000 from the client", cl)
			}
			wire[mode.Name] = sz
		})
	}

	// The parameters must have had an effect on the wire, or the modes
	// above would test nothing: a repeated message costs next to nothing
	// where the sender keeps its context and as much as the first time where
	// it does not, and a small window compresses worse than the full one.
	t.Run("effect_on_the_wire", func(t *testing.T) {
		for _, mode := range modes {
			sz, ok := wire[mode.Name]
			if !ok {
				continue
			}
			for d := range 2 {
				if mode.wantBits[d] != 15 {
					continue
				}
				if mode.wantNoTakeover[d] {
					if sz.repeat[d] != sz.words[d] {
						t.Errorf("%s, %s: the repeated message took %d bytes, the first %d; want the same without context takeover",
							mode.Name, dissect.Direction(d), sz.repeat[d], sz.words[d])
					}
				} else if sz.repeat[d]*10 > sz.words[d] {
					t.Errorf("%s, %s: the repeated message took %d bytes, the first %d; want far fewer with context takeover",
						mode.Name, dissect.Direction(d), sz.repeat[d], sz.words[d])
				}
			}
		}
		full, ok := wire["takeover_both"]
		for _, bits := range []int{8, 9} {
			for d, name := range []string{"client_max_window_bits=", "server_max_window_bits="} {
				small, ok2 := wire[name+strconv.Itoa(bits)]
				if ok && ok2 && small.large[d] <= full.large[d] {
					t.Errorf("%s%d: 100 KB of text took %d bytes, with the full window %d; want more",
						name, bits, small.large[d], full.large[d])
				}
			}
		}
		if testing.Verbose() {
			for _, mode := range modes {
				t.Logf("%-28s large message on the wire: client %6d, server %6d", mode.Name, wire[mode.Name].large[0], wire[mode.Name].large[1])
			}
		}
	})
}
