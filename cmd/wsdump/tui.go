package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/wsdump/wsdump/capture"
	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/internal/pipeline"
	"github.com/wsdump/wsdump/tui"
)

// runTUI shows the capture in the terminal interface. The file is read
// through a counting reader so that the status bar can show how far the
// loading is.
func runTUI(ctx context.Context, cfg *config) error {
	if cfg.readFile == "-" {
		return errors.New("--tui needs a capture file: standard input is the keyboard")
	}
	f, err := os.Open(cfg.readFile)
	if err != nil {
		return &capture.Error{Op: "open", Name: cfg.readFile, Offset: -1, Err: err}
	}
	defer f.Close()
	var size int64
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		size = fi.Size()
	}
	cr := &countingReader{r: f}
	src, err := capture.OpenReader(cr, cfg.readFile)
	if err != nil {
		return err
	}
	defer src.Close()
	cs := &countingSource{Source: src}

	loc := time.Local
	if cfg.utc {
		loc = time.UTC
	}
	pc := pipeline.Config{WSPorts: cfg.wsPorts, MaxPackets: cfg.count}
	pc.Dissect = dissect.DefaultConfig()
	pc.Dissect.MaxPayload = cfg.maxPayload

	opts := tui.Options{Source: cfg.readFile, Color: cfg.color, Location: loc}
	fo := tui.FeedOptions{Progress: func() tui.Progress {
		return tui.Progress{Packets: cs.n.Load(), BytesRead: cr.n.Load(), Size: size}
	}}
	return tui.Run(ctx, opts, fo, func(ctx context.Context, sink dissect.Sink) (string, error) {
		st, err := pipeline.Run(ctx, cs, pc, sink)
		return fmt.Sprintf("%d packets, %d WebSocket conversations, %d messages, %d violations",
			st.Capture.Packets, st.WebSockets, st.Messages, st.Violations), err
	})
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingSource counts the packets read from a source.
type countingSource struct {
	capture.Source
	n atomic.Uint64
}

func (c *countingSource) Next() (capture.Packet, error) {
	p, err := c.Source.Next()
	if err == nil {
		c.n.Add(1)
	}
	return p, err
}
