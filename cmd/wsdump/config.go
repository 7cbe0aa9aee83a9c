package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wsdump/wsdump/dissect"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// config is everything the command line says.
type config struct {
	readFile   string
	count      uint64
	quiet      bool
	verbose    bool
	hex        bool
	color      bool
	utc        bool
	wsPorts    []uint16
	maxPayload int
	tui        bool
}

var errHelp = errors.New("help shown")

const usageText = `Usage: wsdump -r FILE [options]

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
  --max-payload N    keep at most N bytes of each payload (default 65536;
                     0 keeps every byte); lengths and SHA-256 cover it all
  --color WHEN       colour the output: auto (a terminal, unless NO_COLOR is
                     set), always or never (default auto)
  --utc              print times in UTC instead of the local time zone
  --tui              show the capture in an interactive terminal interface
                     (press ? there for its keys)
  --version          print the version and exit
  -h, --help         print this help and exit

Examples:
  wsdump -r testdata/pcaps/ws-ethernet-ipv4.pcap
  wsdump -r capture.pcapng.gz -v -x
  wsdump -r capture.pcap -q
  tcpdump -w - port 8080 | wsdump -r -
  wsdump -r tunnel.pcap --ws-port 8888

Exit status: 0 when the input was read to its end, 1 when it could not be
opened or is damaged (what was decoded before the damage is still printed),
2 for a usage error.
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
			return fmt.Errorf("-c wants a positive number of packets, not %q", s)
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
			return fmt.Errorf("--ws-port wants a TCP port (1-65535), not %q", s)
		}
		cfg.wsPorts = append(cfg.wsPorts, uint16(p))
		return nil
	})
	fs.Func("max-payload", "", func(s string) error {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return fmt.Errorf("--max-payload wants a number of bytes, not %q", s)
		}
		cfg.maxPayload = int(n)
		return nil
	})
	colorWhen := "auto"
	fs.StringVar(&colorWhen, "color", "auto", "")
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
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (capture filters need a live interface, which this build does not read yet)", strings.Join(fs.Args(), " "))
	}
	if cfg.readFile == "" {
		return nil, errors.New("no input: give a capture file with -r FILE")
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
