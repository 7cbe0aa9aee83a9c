package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// BPFInstruction is one classic BPF instruction, laid out as the kernel's
// struct sock_filter and libpcap's struct bpf_insn.
type BPFInstruction struct {
	Code   uint16
	Jt, Jf uint8
	K      uint32
}

// MaxBPFInstructions is the longest program the kernel accepts
// (BPF_MAXINSNS).
const MaxBPFInstructions = 4096

// tcpdumpCandidates are where CompileFilter looks for tcpdump when it is not
// on the PATH (sbin directories are often missing from a user's PATH).
var tcpdumpCandidates = []string{"/usr/sbin/tcpdump", "/usr/bin/tcpdump", "/sbin/tcpdump", "/usr/local/sbin/tcpdump", "/usr/local/bin/tcpdump"}

// lookTcpdump returns the path of an installed tcpdump, or "".
func lookTcpdump() string {
	if p, err := exec.LookPath("tcpdump"); err == nil {
		return p
	}
	for _, p := range tcpdumpCandidates {
		if p, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	return ""
}

// dltNames are the names tcpdump -y knows the link types by.
var dltNames = map[LinkType]string{
	LinkTypeNull:      "NULL",
	LinkTypeEthernet:  "EN10MB",
	LinkTypeRaw:       "RAW",
	LinkTypeLoop:      "LOOP",
	LinkTypeLinuxSLL:  "LINUX_SLL",
	LinkTypeIPv4:      "IPV4",
	LinkTypeIPv6:      "IPV6",
	LinkTypeLinuxSLL2: "LINUX_SLL2",
}

// compileTimeout bounds one run of the filter compiler.
const compileTimeout = 10 * time.Second

// CompileFilter compiles a capture filter in pcap-filter(7) syntax to
// classic BPF for packets of link type link, cut to snaplen bytes, by asking
// an installed tcpdump (tcpdump -ddd). An empty filter compiles to no
// program (nil): every packet is kept.
//
// An expression tcpdump rejects gives an error wrapping ErrFilter with
// tcpdump's message; no tcpdump gives one wrapping ErrNoFilterCompiler.
func CompileFilter(filter string, link LinkType, snaplen int) ([]BPFInstruction, error) {
	if strings.TrimSpace(filter) == "" {
		return nil, nil
	}
	dlt, ok := dltNames[link]
	if !ok {
		return nil, fmt.Errorf("capture: filter %q: %w for link type %s", filter, ErrNoFilterCompiler, link)
	}
	bin := lookTcpdump()
	if bin == "" {
		return nil, fmt.Errorf("capture: filter %q: %w: tcpdump compiles capture filters for this build and is not installed (install tcpdump, or use the libpcap build)", filter, ErrNoFilterCompiler)
	}
	if snaplen <= 0 || snaplen > MaxPacketSize {
		snaplen = MaxPacketSize
	}
	ctx, cancel := context.WithTimeout(context.Background(), compileTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-ddd", "-y", dlt, "-s", strconv.Itoa(snaplen), "--", filter)
	var stdout limitedBuffer
	var stderr limitedBuffer
	stdout.max = 1 << 20
	stderr.max = 64 << 10
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ctx.Err() != nil {
			return nil, fmt.Errorf("capture: filter %q: %w: running %s: %v", filter, ErrNoFilterCompiler, bin, err)
		}
		return nil, fmt.Errorf("capture: filter %q: %w: %s", filter, ErrFilter, tcpdumpMessage(stderr.b.Bytes()))
	}
	prog, err := ParseBPF(stdout.b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("capture: filter %q: %w: output of %s -ddd: %v", filter, ErrNoFilterCompiler, bin, err)
	}
	return prog, nil
}

// tcpdumpMessage returns the gist of tcpdump's complaint: its last line
// that says something, without the "tcpdump: " prefix.
func tcpdumpMessage(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		l = strings.TrimPrefix(l, "tcpdump: ")
		if l != "" && !strings.HasPrefix(l, "(") {
			return l
		}
	}
	return "rejected by tcpdump"
}

// ParseBPF reads a program in the form tcpdump -ddd prints: the number of
// instructions, then one "code jt jf k" line per instruction, in decimal.
func ParseBPF(text []byte) ([]BPFInstruction, error) {
	lines := strings.Split(strings.TrimSpace(string(text)), "\n")
	if len(lines) == 0 || lines[0] == "" {
		return nil, errors.New("empty program")
	}
	n, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		return nil, fmt.Errorf("instruction count %q", lines[0])
	}
	if n < 1 || n > MaxBPFInstructions {
		return nil, fmt.Errorf("%d instructions (1 to %d allowed)", n, MaxBPFInstructions)
	}
	if len(lines)-1 != n {
		return nil, fmt.Errorf("%d instructions announced, %d lines follow", n, len(lines)-1)
	}
	prog := make([]BPFInstruction, n)
	for i, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, fmt.Errorf("instruction %d: %q is not \"code jt jf k\"", i, l)
		}
		code, err1 := strconv.ParseUint(f[0], 10, 16)
		jt, err2 := strconv.ParseUint(f[1], 10, 8)
		jf, err3 := strconv.ParseUint(f[2], 10, 8)
		k, err4 := strconv.ParseUint(f[3], 10, 32)
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("instruction %d: %q: out of range or not a number", i, l)
		}
		prog[i] = BPFInstruction{Code: uint16(code), Jt: uint8(jt), Jf: uint8(jf), K: uint32(k)}
	}
	return prog, nil
}

// limitedBuffer keeps at most max bytes and drops the rest.
type limitedBuffer struct {
	b   bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
