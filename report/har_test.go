package report_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wsdump/wsdump/internal/testutil"
)

// harLog is the part of a HAR file the tests compare.
type harLog struct {
	Log struct {
		Version string `json:"version"`
		Entries []struct {
			ResourceType string `json:"_resourceType"`
			Request      struct {
				Method string `json:"method"`
				URL    string `json:"url"`
			} `json:"request"`
			Response struct {
				Status int `json:"status"`
			} `json:"response"`
			Messages []struct {
				Type   string  `json:"type"`
				Time   float64 `json:"time"`
				Opcode int     `json:"opcode"`
				Data   string  `json:"data"`
			} `json:"_webSocketMessages"`
		} `json:"entries"`
	} `json:"log"`
}

func parseHAR(t *testing.T, b []byte) *harLog {
	t.Helper()
	var h harLog
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("HAR: %v\n%s", err, b)
	}
	return &h
}

// messageLines lists the _webSocketMessages as "type opcode time data".
func (h *harLog) messageLines() []string {
	var out []string
	for _, e := range h.Log.Entries {
		for _, m := range e.Messages {
			out = append(out, fmt.Sprintf("%s %d %.6f %s", m.Type, m.Opcode, m.Time, m.Data))
		}
	}
	return out
}

// TestHARMatchesPcap2har compares wsdump's HAR with the golden HAR files of
// pcap2har for the same captures: type, opcode, data and time to the
// microsecond of every WebSocket message.
func TestHARMatchesPcap2har(t *testing.T) {
	for _, tc := range []struct{ pcap, golden string }{
		{"websocket.pcap", "test_websocket.py-test_websocket_parse"},
		{"ipv4-websocket-segmented.pcap", "test_websocket.py-test_websocket_segmented"},
	} {
		out := runOutputs(t, testutil.Shared(t, "pcap2har/"+tc.pcap), 0, nil)
		got := parseHAR(t, out.har)
		b, err := os.ReadFile(testutil.Shared(t, "pcap2har/expected/"+tc.golden))
		if err != nil {
			t.Fatal(err)
		}
		want := parseHAR(t, b)
		if g, w := got.messageLines(), want.messageLines(); !slices.Equal(g, w) || len(w) == 0 {
			t.Errorf("%s: _webSocketMessages\n%s\nwant (pcap2har)\n%s", tc.pcap, strings.Join(g, "\n"), strings.Join(w, "\n"))
		}
		if len(got.Log.Entries) != 1 || got.Log.Version != "1.2" {
			t.Fatalf("%s: %d entries, version %q; want 1 entry of a 1.2 log", tc.pcap, len(got.Log.Entries), got.Log.Version)
		}
		e, we := got.Log.Entries[0], want.Log.Entries[0]
		if e.ResourceType != "websocket" || e.Response.Status != 101 || e.Request.Method != "GET" {
			t.Errorf("%s: entry %q %s status %d", tc.pcap, e.ResourceType, e.Request.Method, e.Response.Status)
		}
		// pcap2har writes http://, Chrome ws://; the rest of the URL agrees.
		if strings.TrimPrefix(e.Request.URL, "ws://") != strings.TrimPrefix(we.Request.URL, "http://") {
			t.Errorf("%s: url %q; pcap2har %q", tc.pcap, e.Request.URL, we.Request.URL)
		}
	}
}

// harValidatorDir installs the npm package har-validator once per machine
// (in the user cache directory) and returns the directory holding it.
func harValidatorDir(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed: the HAR is not checked with har-validator (apt-get install nodejs npm)")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm is not installed: the HAR is not checked with har-validator (apt-get install npm)")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "wsdump-test", "har-validator-5")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator", "package.json")); err == nil {
		return dir
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--prefix", dir, "har-validator@5")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm install har-validator failed (offline?): %v\n%s", err, out)
	}
	return dir
}

// validateHAR is run by node: it validates each HAR file named on the
// command line with har-validator and prints the errors it finds.
const validateHAR = `
const { har } = require('har-validator');
const fs = require('fs');
(async () => {
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    try {
      await har(JSON.parse(fs.readFileSync(f, 'utf8')));
    } catch (e) {
      bad++;
      console.log(f + ': ' + JSON.stringify(e.errors || e.message));
    }
  }
  process.exit(bad ? 1 : 0);
})();
`

// TestHARValidator checks the HAR of every capture with har-validator, the
// HAR 1.2 schema checker used by the npm request library and HAR tools.
func TestHARValidator(t *testing.T) {
	if testing.Short() {
		t.Skip("runs node: not in -short mode")
	}
	dir := harValidatorDir(t)
	tmp := t.TempDir()
	script := filepath.Join(dir, "validate.js")
	if err := os.WriteFile(script, []byte(validateHAR), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{script}
	for i, path := range allCaptures(t) {
		out := runOutputs(t, path, 0, nil)
		f := filepath.Join(tmp, fmt.Sprintf("%02d-%s.har", i, filepath.Base(path)))
		if err := os.WriteFile(f, out.har, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, f)
	}
	// A HAR known to be wrong must fail, or the check proves nothing.
	broken := filepath.Join(tmp, "broken.har")
	os.WriteFile(broken, []byte(`{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"entries":[{"startedDateTime":"yesterday"}]}}`), 0o644)
	cmd := exec.Command("node", script, broken)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "broken.har") {
		t.Fatalf("har-validator accepted a broken HAR: %v %s", err, out)
	}
	cmd = exec.Command("node", args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("har-validator: %v\n%s", err, out)
	}
	t.Logf("har-validator accepted %d HAR files", len(args)-1)
}
