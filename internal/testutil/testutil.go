// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// RepoRoot returns the repository's top directory, found by walking up from
// the test's working directory to the folder holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// SharedDir returns the folder of captures from other projects' test suites
// (../shared/pcaps beside the repository), or skips the test when it is
// absent.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "pcaps")
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Skipf("the shared capture corpus %s is absent: tests that compare wsdump with other analyzers' expectations are skipped", dir)
	}
	return dir
}

// SharedCaptures lists every capture file of the shared corpus, sorted.
func SharedCaptures(t testing.TB) []string {
	t.Helper()
	dir := SharedDir(t)
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if !d.IsDir() && (strings.HasSuffix(name, ".pcap") || strings.HasSuffix(name, ".pcapng") || strings.HasSuffix(name, ".pcapng.gz")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) == 0 {
		t.Fatalf("no captures in %s", dir)
	}
	return files
}

// Shared returns the path of one file of the shared corpus, skipping the
// test when the corpus is absent.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(SharedDir(t), filepath.FromSlash(rel))
}

// Tcpdump is a running tcpdump writing a capture file.
type Tcpdump struct {
	cmd    *exec.Cmd
	Path   string
	stderr *bytes.Buffer
}

// StartTcpdump captures on iface with the capture filter into a file in a
// temporary directory, and returns once tcpdump is listening. It skips the
// test when tcpdump is not installed or capturing is not permitted.
func StartTcpdump(t testing.TB, iface, filter string) *Tcpdump {
	t.Helper()
	bin, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump is not installed: tests that capture real peers on loopback need it (apt-get install tcpdump)")
	}
	if os.Geteuid() != 0 {
		t.Skip("capturing on loopback needs root: run the tests as root to include the real-peer captures")
	}
	path := filepath.Join(t.TempDir(), "live.pcap")
	stderr := &bytes.Buffer{}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-i", iface, "-U", "--immediate-mode", "-n", "-s", "0", "-B", "32768", "-w", path, filter)
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}
	pw.Close()
	ready := make(chan error, 1)
	go func() {
		buf := make([]byte, 4096)
		var seen bool
		for {
			n, err := pr.Read(buf)
			stderr.Write(buf[:n])
			if !seen && strings.Contains(stderr.String(), "listening on") {
				seen = true
				ready <- nil
			}
			if err != nil {
				if !seen {
					ready <- fmt.Errorf("tcpdump exited: %s", stderr.String())
				}
				return
			}
		}
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Skipf("capturing on %s is not possible here: %v", iface, err)
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("tcpdump did not start listening: %s", stderr.String())
	}
	td := &Tcpdump{cmd: cmd, Path: path, stderr: stderr}
	t.Cleanup(func() { td.kill() })
	return td
}

// Stop ends the capture after a short grace period for the last packets,
// and returns the file's path.
func (td *Tcpdump) Stop(t testing.TB) string {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	td.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- td.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		td.cmd.Process.Kill()
		<-done
	}
	return td.Path
}

func (td *Tcpdump) kill() {
	if td.cmd.ProcessState == nil {
		td.cmd.Process.Kill()
		td.cmd.Wait()
	}
}
