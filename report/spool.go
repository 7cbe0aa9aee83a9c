package report

import (
	"fmt"
	"io"
	"os"
)

// DefaultMemoryBudget is the memory budget of the JSON report and of the
// HAR when their options leave it 0: 16 MiB.
const DefaultMemoryBudget = 16 << 20

// spool keeps the encoded elements of JSON arrays that cannot be written
// yet (the messages, violations and gaps of conversations that have not
// ended) in memory up to a budget for all its lists together, and in one
// temporary file beyond it.
//
// Memory is counted by the capacity of the lists' buffers. When an element
// would take it over the budget, the buffers of all lists are written to
// the file, each as a segment recorded by its list, and let go. A list is
// streamed out by copying its segments from the file, in order, then its
// buffer. On Linux the segments of a list that was written out are punched
// out of the file, so that the disk space taken follows the lists still
// open; on every system the file is truncated to nothing whenever no
// segment is left in it.
//
// When the file cannot be created or written, the spool keeps elements in
// memory as long as they fit in the budget and refuses the others; add
// reports which.
type spool struct {
	budget   int
	mem      int          // capacity of the buffers of the resident lists
	resident []*spoolList // lists holding a buffer
	f        *os.File     // nil until the first spill
	size     int64        // bytes written to f
	live     int64        // bytes of f in segments not yet released
	broken   error        // the file could not be created or written
	chunk    []byte       // copy buffer for reading segments back
	spills   int          // times the buffers were written to the file
	// free holds buffers let go by lists (at most budget/2 bytes of
	// them), given to lists that need one: after a spill, every open list
	// needs a buffer again, and making and growing new ones (zeroed,
	// copied, returned to the system) would cost more than the encoding.
	free    [][]byte
	freeMem int
}

// spoolList is one JSON array of a spool: its elements separated by
// commas, as the bytes of its segments in the file followed by those of
// its buffer.
type spoolList struct {
	segs []segment
	buf  []byte
	slot int  // 1 + index in spool.resident, 0 when not resident
	any  bool // an element was added
}

type segment struct{ off, n int64 }

// minBuffer is the smallest buffer a list is given.
const minBuffer = 512

func newSpool(budget int) *spool {
	if budget <= 0 {
		budget = DefaultMemoryBudget
	}
	return &spool{budget: budget}
}

// createSpoolFile makes the spool's file in the temporary directory and
// removes its name, so that nothing is left behind however the process
// ends (on systems that allow removing an open file).
var createSpoolFile = func() (*os.File, error) {
	f, err := os.CreateTemp("", "wsdump-spool-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // where removing an open file fails, Close removes it
	return f, nil
}

// add appends one encoded element to l. It returns false when the
// element could not be kept: it did not fit in the memory budget and the
// file could not be written.
func (s *spool) add(l *spoolList, elem []byte) bool {
	need := len(elem)
	if l.any {
		need++
	}
	if len(l.buf)+need > cap(l.buf) {
		if !s.grow(l, need) {
			if !s.write(l, elem) {
				return false
			}
			l.any = true
			return true
		}
	}
	if l.any {
		l.buf = append(l.buf, ',')
	}
	l.buf = append(l.buf, elem...)
	l.any = true
	return true
}

// grow gives l a buffer with room for need more bytes: twice as large as
// before, or as large as the budget leaves when that is less but enough.
// When it is not enough, every buffer is spilled to the file first. It
// returns false when no buffer within the budget can hold the bytes.
func (s *spool) grow(l *spoolList, need int) bool {
	room := func() int { return s.budget - (s.mem - cap(l.buf)) }
	if len(l.buf)+need > room() {
		s.spill()
		// After a spill, l has no buffer left; after a failed one, it
		// may still have, and other lists may have let theirs go.
		if len(l.buf)+need > room() {
			return false
		}
	}
	want := len(l.buf) + need
	b := s.take(want, room())
	if b == nil {
		b = make([]byte, 0, min(max(2*cap(l.buf), want, minBuffer), room()))
	}
	b = append(b, l.buf...)
	s.mem += cap(b) - cap(l.buf)
	s.keep(l.buf)
	l.buf = b
	if l.slot == 0 {
		s.resident = append(s.resident, l)
		l.slot = len(s.resident)
	}
	return true
}

// spill writes the buffer of every resident list to the file as a new
// segment of that list and lets the buffers go. It returns false when the
// file cannot be created or written; the buffers not written are kept.
func (s *spool) spill() bool {
	if !s.open() {
		return false
	}
	for len(s.resident) > 0 {
		l := s.resident[len(s.resident)-1]
		if len(l.buf) > 0 {
			if !s.appendSegment(l, l.buf) {
				return false
			}
		}
		s.release(l)
	}
	s.spills++
	return true
}

// write puts elem, after a comma when l has elements already, straight
// into the file as a segment of l. l's buffer, if any, is spilled first
// (with every other) so that the order of l's bytes is kept.
func (s *spool) write(l *spoolList, elem []byte) bool {
	if len(l.buf) > 0 && !s.spill() {
		return false
	}
	if !s.open() {
		return false
	}
	off := s.size
	if l.any {
		if !s.writeFile([]byte{','}) {
			return false
		}
	}
	if !s.writeFile(elem) {
		return false
	}
	s.record(l, segment{off, s.size - off})
	return true
}

func (s *spool) open() bool {
	if s.broken != nil {
		return false
	}
	if s.f == nil {
		f, err := createSpoolFile()
		if err != nil {
			s.broken = fmt.Errorf("report: spool file: %w", err)
			return false
		}
		s.f = f
	}
	return true
}

func (s *spool) appendSegment(l *spoolList, b []byte) bool {
	off := s.size
	if !s.writeFile(b) {
		return false
	}
	s.record(l, segment{off, int64(len(b))})
	return true
}

func (s *spool) record(l *spoolList, g segment) {
	s.live += g.n
	if n := len(l.segs); n > 0 && l.segs[n-1].off+l.segs[n-1].n == g.off {
		l.segs[n-1].n += g.n
		return
	}
	l.segs = append(l.segs, g)
}

// writeFile appends b to the file (at s.size, which truncating resets). After a failed write the file is not
// written again: what a partial write left is never part of a segment.
func (s *spool) writeFile(b []byte) bool {
	n, err := s.f.WriteAt(b, s.size)
	s.size += int64(n)
	if err != nil {
		s.broken = fmt.Errorf("report: spool file: %w", err)
		return false
	}
	return true
}

// take returns an empty free buffer with a capacity from want to max, or
// nil.
func (s *spool) take(want, max int) []byte {
	for i := len(s.free) - 1; i >= 0; i-- {
		if b := s.free[i]; cap(b) >= want && cap(b) <= max {
			last := len(s.free) - 1
			s.free[i] = s.free[last]
			s.free[last] = nil
			s.free = s.free[:last]
			s.freeMem -= cap(b)
			return b[:0]
		}
	}
	return nil
}

// keep puts a buffer let go on the free list, if there is room for it.
func (s *spool) keep(b []byte) {
	if cap(b) > 0 && s.freeMem+cap(b) <= s.budget/2 {
		s.free = append(s.free, b[:0])
		s.freeMem += cap(b)
	}
}

// release lets l's buffer go and takes it off the resident lists.
func (s *spool) release(l *spoolList) {
	s.mem -= cap(l.buf)
	s.keep(l.buf)
	l.buf = nil
	if l.slot > 0 {
		i, last := l.slot-1, len(s.resident)-1
		s.resident[i] = s.resident[last]
		s.resident[i].slot = i + 1
		s.resident[last] = nil
		s.resident = s.resident[:last]
		l.slot = 0
	}
}

// writeTo writes l's elements with write: its segments read back from
// the file through a fixed buffer, then its buffer. l is empty afterwards
// and its memory and file space are released. The error is one of reading
// the file; write keeps its own.
func (s *spool) writeTo(write func([]byte), l *spoolList) error {
	var err error
	for _, g := range l.segs {
		if err = s.copySegment(write, g); err != nil {
			break
		}
	}
	write(l.buf)
	s.drop(l)
	return err
}

// drop forgets l's elements without writing them.
func (s *spool) drop(l *spoolList) {
	for _, g := range l.segs {
		s.live -= g.n
		punchHole(s.f, g.off, g.n)
	}
	if l.segs != nil && s.live == 0 {
		// Nothing in the file is needed any more: start it over.
		if err := s.f.Truncate(0); err == nil {
			s.size = 0
		}
	}
	l.segs = nil
	s.release(l)
	l.any = false
}

func (s *spool) copySegment(write func([]byte), g segment) error {
	if s.chunk == nil {
		s.chunk = make([]byte, 64<<10)
	}
	for done := int64(0); done < g.n; {
		n := int(min(int64(len(s.chunk)), g.n-done))
		m, err := s.f.ReadAt(s.chunk[:n], g.off+done)
		write(s.chunk[:m])
		done += int64(m)
		if err != nil && done < g.n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("report: reading the spool file: %w", err)
		}
	}
	return nil
}

// Close closes the file (whose name was removed when it was made).
func (s *spool) Close() error {
	if s.f == nil {
		return nil
	}
	name := s.f.Name()
	err := s.f.Close()
	s.f = nil
	os.Remove(name) // gone already where an open file can be removed
	return err
}
