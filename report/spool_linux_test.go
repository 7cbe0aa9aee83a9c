package report

import (
	"os"
	"syscall"
	"testing"
)

// allocated returns the disk space f takes, when holes can be punched in
// files of dir; ok is false when they cannot.
func allocated(t *testing.T, f *os.File, dir string) (used int64, ok bool) {
	t.Helper()
	p, err := os.CreateTemp(dir, "punch")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(p.Name())
	defer p.Close()
	if _, err := p.Write(make([]byte, 64<<10)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fallocate(int(p.Fd()), 0x02|0x01, 0, 64<<10); err != nil {
		t.Logf("the file system of %s does not punch holes (%v): disk use is not checked", dir, err)
		return 0, false
	}
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512, true
}
