// Command benchcap writes a benchmark capture made by pcaptest.WriteBulk:
//
//	go run ./internal/pcaptest/cmd/benchcap -mb 1024 -o bench/bulk-1024.pcap
//
// The same flags always give the same bytes. The file is written under a
// temporary name and renamed when complete, so an interrupted run never
// leaves a short capture behind. A summary of what was written (bytes,
// packets, connections, messages) goes to standard output.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wsdump/wsdump/internal/pcaptest"
)

// maxMB bounds -mb: a capture larger than 1 TiB is surely a typing error.
const maxMB = 1 << 20

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchcap:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("benchcap", flag.ContinueOnError)
	mb := fs.Int64("mb", 1024, "size of the capture in MiB (a connection in progress finishes beyond it)")
	out := fs.String("o", "", "file to write (required)")
	seed := fs.Int64("seed", 1, "seed of the generator")
	conns := fs.Int("conns", 0, "connections open at once (0: the generator's default, 200)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return errors.New("-o FILE is required")
	}
	if *mb <= 0 || *mb > maxMB {
		return fmt.Errorf("-mb %d: want 1 to %d", *mb, maxMB)
	}
	st, err := write(*out, pcaptest.BulkOptions{Size: *mb << 20, Seed: *seed, Conns: *conns})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes, %d packets, %d connections, %d messages, %d frames\n",
		*out, st.Bytes, st.Packets, st.Conns, st.Messages, st.Frames)
	return nil
}

// write writes the capture to path through a temporary file in the same
// directory.
func write(path string, opt pcaptest.BulkOptions) (pcaptest.BulkStats, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return pcaptest.BulkStats{}, err
	}
	tmp := f.Name()
	if err := f.Chmod(0o644); err != nil { // CreateTemp makes it private
		f.Close()
		os.Remove(tmp)
		return pcaptest.BulkStats{}, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	st, err := pcaptest.WriteBulk(bw, opt)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return pcaptest.BulkStats{}, fmt.Errorf("writing %s: %w", path, err)
	}
	return st, nil
}
