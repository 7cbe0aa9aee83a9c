package capture

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestParseBPF(t *testing.T) {
	good := "3\n40 0 0 12\n21 0 1 2048\n6 0 0 262144\n"
	prog, err := ParseBPF([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []BPFInstruction{{Code: 40, K: 12}, {Code: 21, Jt: 0, Jf: 1, K: 2048}, {Code: 6, K: 262144}}
	if len(prog) != len(want) {
		t.Fatalf("got %d instructions; want %d", len(prog), len(want))
	}
	for i := range want {
		if prog[i] != want[i] {
			t.Errorf("instruction %d: got %+v; want %+v", i, prog[i], want[i])
		}
	}
	// The largest values of every field.
	prog, err = ParseBPF([]byte("1\n65535 255 255 4294967295"))
	if err != nil || prog[0] != (BPFInstruction{Code: 65535, Jt: 255, Jf: 255, K: 4294967295}) {
		t.Errorf("largest values: %+v, %v", prog, err)
	}

	bad := map[string]string{
		"empty":            "",
		"count not number": "x\n6 0 0 0",
		"count zero":       "0\n",
		"count too large":  "4097\n6 0 0 0",
		"fewer lines":      "2\n6 0 0 0",
		"more lines":       "1\n6 0 0 0\n6 0 0 0",
		"three fields":     "1\n6 0 0",
		"code overflow":    "1\n65536 0 0 0",
		"jt overflow":      "1\n6 256 0 0",
		"k overflow":       "1\n6 0 0 4294967296",
		"negative":         "1\n6 0 0 -1",
		"hex":              "1\n0x28 0 0 12",
	}
	for name, in := range bad {
		if prog, err := ParseBPF([]byte(in)); err == nil {
			t.Errorf("%s: %q parsed as %+v; want an error", name, in, prog)
		}
	}
}

func needTcpdump(t *testing.T) {
	t.Helper()
	if lookTcpdump() == "" {
		t.Skip("tcpdump is not installed: it compiles capture filters (apt-get install tcpdump)")
	}
}

func TestCompileFilter(t *testing.T) {
	needTcpdump(t)
	prog, err := CompileFilter("", LinkTypeEthernet, 0)
	if err != nil || prog != nil {
		t.Errorf("empty filter: %v, %v; want no program", prog, err)
	}

	// The snap length reaches the program: a packet that matches is kept
	// up to that many bytes (BPF_RET|BPF_K with k = snaplen), one that does
	// not is dropped (k = 0).
	prog, err = CompileFilter("tcp port 8080", LinkTypeEthernet, 1500)
	if err != nil {
		t.Fatal(err)
	}
	var keep, drop bool
	for _, in := range prog {
		if in.Code == 0x06 {
			keep = keep || in.K == 1500
			drop = drop || in.K == 0
		}
	}
	if !keep || !drop || len(prog) < 4 {
		t.Errorf("program %+v: want a return of 1500 and one of 0", prog)
	}
	// The first instruction loads the EtherType (offset 12) on Ethernet,
	// and the IP version nibble (offset 0) on raw IP.
	if prog[0] != (BPFInstruction{Code: 0x28, K: 12}) {
		t.Errorf("Ethernet program starts with %+v; want ldh [12]", prog[0])
	}
	raw, err := CompileFilter("tcp port 8080", LinkTypeRaw, 1500)
	if err != nil {
		t.Fatal(err)
	}
	if raw[0] != (BPFInstruction{Code: 0x30, K: 0}) {
		t.Errorf("raw IP program starts with %+v; want ldb [0]", raw[0])
	}

	_, err = CompileFilter("tcp port", LinkTypeEthernet, 0)
	if !errors.Is(err, ErrFilter) || !strings.Contains(err.Error(), "syntax error") || strings.Contains(err.Error(), "tcpdump: ") {
		t.Errorf("invalid filter: %v; want ErrFilter with tcpdump's message", err)
	}
	// A filter word that looks like an option is still a filter word.
	_, err = CompileFilter("-w /tmp/x", LinkTypeEthernet, 0)
	if !errors.Is(err, ErrFilter) {
		t.Errorf("filter %q: %v; want ErrFilter", "-w /tmp/x", err)
	}
	_, err = CompileFilter("tcp", LinkTypeUSBLinux, 0)
	if !errors.Is(err, ErrNoFilterCompiler) {
		t.Errorf("unsupported link type: %v; want ErrNoFilterCompiler", err)
	}
}

func TestCompileFilterWithoutTcpdump(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := tcpdumpCandidates
	tcpdumpCandidates = nil
	defer func() { tcpdumpCandidates = saved }()
	if _, err := exec.LookPath("tcpdump"); err == nil {
		t.Fatal("tcpdump still found")
	}
	_, err := CompileFilter("tcp", LinkTypeEthernet, 0)
	if !errors.Is(err, ErrNoFilterCompiler) || !strings.Contains(err.Error(), "tcpdump") {
		t.Errorf("got %v; want ErrNoFilterCompiler naming tcpdump", err)
	}
	// Without a filter nothing needs compiling.
	if prog, err := CompileFilter("  ", LinkTypeEthernet, 0); prog != nil || err != nil {
		t.Errorf("blank filter: %v, %v", prog, err)
	}
}
