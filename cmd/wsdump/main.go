// Command wsdump shows the WebSocket traffic in a capture file: handshakes,
// frames, messages, close handshakes and protocol violations.
//
//	wsdump -r capture.pcapng
//
// See wsdump --help for every option.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

func main() {
	os.Exit(mainExit())
}

// softMemoryLimit is the heap size the garbage collector works to stay
// under unless GOMEMLIMIT says otherwise. wsdump's working set is bounded
// (a few MiB per thousand open connections, batches between its stages,
// payloads up to --max-payload); without a limit the collector lets the
// heap grow to twice that before it runs. A soft limit: a larger working
// set (many thousands of connections) still gets the memory it needs.
const softMemoryLimit = 180 << 20

func mainExit() int {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	cfg, err := parseArgs(os.Args[1:], os.Stdout, os.Getenv)
	if err != nil {
		if errors.Is(err, errHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "wsdump: %v\nTry 'wsdump --help' for more information.\n", err)
		return 2
	}
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "wsdump: --cpuprofile: %v\n", err)
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first interrupt ends the run, a second one ends the process.
	context.AfterFunc(ctx, stop)
	if err := run(ctx, cfg, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "wsdump: %v\n", err)
		return exitStatus(err)
	}
	return 0
}
