package report

import (
	"os"
	"syscall"
)

// punchHole gives the blocks of f's bytes [off, off+n) back to the file
// system, keeping the file's size. It is only an economy of disk space:
// errors (a file system without holes) are ignored.
func punchHole(f *os.File, off, n int64) {
	const punchHole, keepSize = 0x02, 0x01 // FALLOC_FL_PUNCH_HOLE, FALLOC_FL_KEEP_SIZE
	if f == nil || n <= 0 {
		return
	}
	syscall.Fallocate(int(f.Fd()), punchHole|keepSize, off, n)
}
