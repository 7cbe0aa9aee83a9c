package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pipeline"
	"github.com/wsdump/wsdump/report"
)

// run does what cfg says, reading a capture from stdin when the file is "-".
// Errors are failures of the input or of the output; traffic that breaks the
// protocol is reported, not returned.
func run(ctx context.Context, cfg *config, stdin io.Reader, stdout, stderr io.Writer) error {
	if cfg.tui {
		return runTUI(ctx, cfg)
	}
	var src capture.Source
	var err error
	if cfg.readFile == "-" {
		src, err = capture.OpenReader(stdin, "-")
	} else {
		src, err = capture.OpenFile(cfg.readFile)
	}
	if err != nil {
		return err
	}
	defer src.Close()

	loc := time.Local
	if cfg.utc {
		loc = time.UTC
	}
	text := report.NewText(stdout, report.TextOptions{
		Quiet:            cfg.quiet,
		Verbose:          cfg.verbose,
		Hex:              cfg.hex,
		Color:            cfg.color,
		Location:         loc,
		FlushEach:        isTerminal(stdout),
		AllConversations: cfg.quiet,
	})

	pc := pipeline.Config{WSPorts: cfg.wsPorts, MaxPackets: cfg.count}
	pc.Dissect = dissect.DefaultConfig()
	pc.Dissect.MaxPayload = cfg.maxPayload
	st, runErr := pipeline.Run(ctx, src, pc, text)
	outErr := text.Flush()
	printStats(stderr, cfg, &st)
	if runErr != nil {
		return runErr
	}
	if outErr != nil {
		return fmt.Errorf("writing output: %w", outErr)
	}
	return nil
}

// printStats writes the end-of-run summary, as tcpdump does, to stderr.
func printStats(w io.Writer, cfg *config, st *pipeline.Stats) {
	c := &st.Capture
	r := &st.Reassembly
	var b strings.Builder
	fmt.Fprintf(&b, "%d packets read, %d TCP segments decoded", c.Packets, c.Decoded)
	if c.Truncated > 0 {
		fmt.Fprintf(&b, ", %d truncated by snaplen", c.Truncated)
	}
	b.WriteByte('\n')
	if len(c.Skipped) > 0 {
		keys := make([]string, 0, len(c.Skipped))
		for k := range c.Skipped {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("skipped:")
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%d", k, c.Skipped[k])
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%d TCP conversations, %d WebSocket; %d handshakes, %d messages, %d frames, %d violations\n",
		st.Conversations, st.WebSockets, st.Handshakes, st.Messages, st.Frames, st.Violations)
	fmt.Fprintf(&b, "reassembly: %d bytes in order, %d out of order, %d retransmitted or overlapping, %d gaps (%d bytes), %d keep-alives",
		r.Delivered, r.OutOfOrder, r.Retransmitted, r.Gaps, r.GapBytes, r.KeepAlives)
	if r.ConnLimitDrops > 0 || r.PageLimitGaps > 0 {
		fmt.Fprintf(&b, "; limits hit: %d segments over the connection limit, %d holes given up at the buffer limit", r.ConnLimitDrops, r.PageLimitGaps)
	}
	b.WriteByte('\n')
	if cfg.verbose && !st.First.IsZero() {
		fmt.Fprintf(&b, "capture time: %s to %s\n", st.First.UTC().Format(time.RFC3339Nano), st.Last.UTC().Format(time.RFC3339Nano))
	}
	io.WriteString(w, b.String())
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
