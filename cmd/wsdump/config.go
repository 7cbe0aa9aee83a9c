package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/report"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// config is everything the command line says.
type config struct {
	readFile    string
	count       uint64
	quiet       bool
	verbose     bool
	hex         bool
	color       bool
	utc         bool
	wsPorts     []uint16
	maxPayload  int
	noMidstream bool
	maxConns    int
	workers     int

	// Machine-readable outputs: a file name, "-" for standard output, ""
	// for none.
	jsonFile, jsonlFile, harFile string
	filter                       report.Filter

	live liveConfig
	tui  bool

	// cpuProfile names a file for a Go CPU profile of the run ("" none).
	cpuProfile string
}

// textOff reports whether a machine-readable output takes standard output,
// which turns the text view off.
func (c *config) textOff() bool {
	return c.jsonFile == "-" || c.jsonlFile == "-" || c.harFile == "-"
}

var errHelp = errors.New("help shown")

// defaultMaxConns bounds the connections tracked at once, and so the memory
// of a capture full of half-open or idle connections (about 2.5 KB each).
const defaultMaxConns = 65536

const usageText = `Usage: wsdump -r FILE [options]
       wsdump -i IFACE [options] [FILTER...]

wsdump reads packets from a pcap or pcapng capture (plain or gzip-compressed;
"-" reads standard input), rebuilds every TCP conversation, recognises
WebSocket upgrades on any port, decodes every frame and message, and flags
protocol violations. It prints one line per handshake, message, control
frame, violation and conversation end.

Options:
  -r FILE            read packets from FILE ("-" for standard input)
  -c N               stop after N packets
  -q                 quiet: print one summary line per TCP conversation only
  -v                 verbose: add a line per frame with every header field,
                     and the handshake headers
  -x                 add a hex dump of every message payload
  --ws-port PORT     decode TCP port PORT as WebSocket even when no handshake
                     was captured (repeatable)
  --no-midstream     do not look for frames by their headers in connections
                     picked up after their handshake, nor after a gap
  --max-conns N      track at most N TCP connections at once (default 65536;
                     each costs about 2.5 KB); segments of further ones are
                     counted and skipped
  --max-payload N    keep at most N bytes of each payload (default 65536;
                     0 keeps every byte); lengths and SHA-256 cover it all
  --workers N        1: decode in one thread; N >= 2 (default 2): read,
                     dissect (in N shards by connection) and print at
                     once, for the same output sooner (capture files only)
  --color WHEN       colour the output: auto (a terminal, unless NO_COLOR is
                     set), always or never (default auto)
  --utc              print times in UTC instead of the local time zone
  --tui              show the capture (-r FILE) or live traffic (-i IFACE) in
                     an interactive terminal interface (? there for its keys)
  --json FILE        write the JSON report (one document) to FILE
  --jsonl FILE       write one JSON event per line to FILE as they happen
  --har FILE         write an HTTP Archive 1.2 with the WebSocket messages
                     to FILE, as Chrome's developer tools export it
                     (FILE "-" is standard output, which turns the text
                     view off; the three combine with each other and with
                     the text view; see docs/json.md)

Filters (they apply to every output):
  --conv ADDR:PORT   only conversations with this endpoint on either side
                     (ADDR, :PORT or [IPv6]:PORT also work; repeatable)
  --from SIDE        only messages and frames sent by client or server
  --opcode LIST      only messages of these opcodes: text, binary, close,
                     ping, pong, cont, 0x3..0xf, data, control
  --grep REGEX       only messages whose (kept) payload matches REGEX
  --cpuprofile FILE  write a CPU profile of the run to FILE (go tool pprof)
  --version          print the version and exit
  -h, --help         print this help and exit

` + liveUsage + `
Examples:
  wsdump -r testdata/pcaps/ws-ethernet-ipv4.pcap
  wsdump -r capture.pcapng.gz -v -x
  wsdump -r capture.pcap -q
  tcpdump -w - port 8080 | wsdump -r -
  sudo wsdump -i eth0 -w ws.pcapng tcp port 443 or tcp port 8080
  wsdump -r tunnel.pcap --ws-port 8888
  wsdump -r capture.pcap --jsonl - --opcode text | jq .text
  wsdump -r capture.pcap --har capture.har --json report.json

Exit status: 0 when the input was read to its end, 1 when it could not be
opened or is damaged (what was decoded before the damage is still printed),
2 for a usage error or an invalid capture filter.
`

// parseArgs turns the command line into a config. getenv reads the
// environment (NO_COLOR). Help goes to out.
func parseArgs(args []string, out io.Writer, getenv func(string) string) (*config, error) {
	cfg := &config{maxPayload: dissect.DefaultConfig().MaxPayload}
	fs := flag.NewFlagSet("wsdump", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.readFile, "r", "", "")
	fs.Func("c", "", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil || n == 0 {
			return errors.New("want a positive number of packets")
		}
		cfg.count = n
		return nil
	})
	fs.BoolVar(&cfg.quiet, "q", false, "")
	fs.BoolVar(&cfg.verbose, "v", false, "")
	fs.BoolVar(&cfg.hex, "x", false, "")
	fs.BoolVar(&cfg.utc, "utc", false, "")
	fs.BoolVar(&cfg.tui, "tui", false, "")
	fs.Func("ws-port", "", func(s string) error {
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil || p == 0 {
			return errors.New("want a TCP port (1-65535)")
		}
		cfg.wsPorts = append(cfg.wsPorts, uint16(p))
		return nil
	})
	fs.Func("max-payload", "", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return errors.New("want a number of bytes")
		}
		cfg.maxPayload = int(n)
		return nil
	})
	fs.StringVar(&cfg.jsonFile, "json", "", "")
	fs.StringVar(&cfg.jsonlFile, "jsonl", "", "")
	fs.StringVar(&cfg.harFile, "har", "", "")
	fs.Func("conv", "", func(s string) error {
		m, err := report.ParseEndpointMatch(s)
		if err != nil {
			return fmt.Errorf("--conv: %v", err)
		}
		cfg.filter.Conv = append(cfg.filter.Conv, m)
		return nil
	})
	fs.Func("from", "", func(s string) error {
		var d dissect.Direction
		switch s {
		case "client":
			d = dissect.FromClient
		case "server":
			d = dissect.FromServer
		default:
			return fmt.Errorf("--from wants client or server, not %q", s)
		}
		cfg.filter.From = &d
		return nil
	})
	fs.Func("opcode", "", func(s string) error {
		ops, err := report.ParseOpcodes(s)
		if err != nil {
			return fmt.Errorf("--opcode: %v", err)
		}
		cfg.filter.Opcodes = append(cfg.filter.Opcodes, ops...)
		return nil
	})
	fs.Func("grep", "", func(s string) error {
		re, err := regexp.Compile(s)
		if err != nil {
			return fmt.Errorf("--grep: %v", err)
		}
		cfg.filter.Grep = re
		return nil
	})
	fs.BoolVar(&cfg.noMidstream, "no-midstream", false, "")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "")
	cfg.maxConns = defaultMaxConns
	fs.Func("max-conns", "", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil || n == 0 {
			return errors.New("want a positive number of connections")
		}
		cfg.maxConns = int(n)
		return nil
	})
	cfg.workers = 2
	fs.Func("workers", "", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 8)
		if err != nil || n == 0 || n > 8 {
			return errors.New("want a number of workers from 1 to 8")
		}
		cfg.workers = int(n)
		return nil
	})
	colorWhen := "auto"
	fs.StringVar(&colorWhen, "color", "auto", "")
	registerLiveFlags(fs, &cfg.live)
	showVersion := fs.Bool("version", false, "")
	help := fs.Bool("help", false, "")
	fs.BoolVar(help, "h", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *help {
		fmt.Fprint(out, usageText)
		return nil, errHelp
	}
	if *showVersion {
		fmt.Fprintf(out, "wsdump %s\n", version)
		return nil, errHelp
	}
	if err := cfg.checkInput(fs.Args()); err != nil {
		return nil, err
	}
	if err := checkOutputs(cfg); err != nil {
		return nil, err
	}
	switch colorWhen {
	case "always":
		cfg.color = true
	case "never":
	case "auto":
		cfg.color = getenv("NO_COLOR") == "" && isTerminal(out)
	default:
		return nil, fmt.Errorf("--color wants auto, always or never, not %q", colorWhen)
	}
	return cfg, nil
}

// checkOutputs refuses two outputs on standard output, or on one file.
func checkOutputs(cfg *config) error {
	seen := map[string]string{}
	for _, o := range []struct{ flag, file string }{{"--json", cfg.jsonFile}, {"--jsonl", cfg.jsonlFile}, {"--har", cfg.harFile}} {
		if o.file == "" {
			continue
		}
		if prev, dup := seen[o.file]; dup {
			if o.file == "-" {
				return fmt.Errorf("%s and %s both write to standard output; give one of them a file", prev, o.flag)
			}
			return fmt.Errorf("%s and %s both write to %q", prev, o.flag, o.file)
		}
		seen[o.file] = o.flag
	}
	return nil
}
