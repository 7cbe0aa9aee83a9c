package tui

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/wsdump/wsdump/dissect"
)

// Options tune a Model.
type Options struct {
	// Source names the input in the status bar (a file name or interface).
	Source string
	// Color enables colours and text attributes. Off, the view holds no
	// escape sequence at all.
	Color bool
	// Location for absolute times; time.Local when nil.
	Location *time.Location
	// MaxBodies caps the message bodies kept per conversation; older
	// bodies are dropped and marked. DefaultMaxBodies when 0.
	MaxBodies int
	// MaxEntries caps the timeline entries kept per conversation; the
	// oldest go first, counts stay exact. DefaultMaxEntries when 0.
	MaxEntries int
	// ExportDir is where 'e' writes conversations; "" is the current
	// directory.
	ExportDir string
	// MaxHeld caps the batches held while paused; beyond it the program
	// stops taking batches and the Feed drops (and counts) events.
	MaxHeld int
}

type pane int

const (
	paneConvs pane = iota
	paneTimeline
	paneDetail
	numPanes
)

type detailMode int

const (
	modePayload detailMode = iota
	modeHex
	modeHandshake
	numModes
)

var modeNames = [numModes]string{"payload", "hex", "handshake"}

// Direction filter values.
const (
	dirAll = iota
	dirClient
	dirServer
	numDirs
)

var dirNames = [numDirs]string{"all", "client", "server"}

// Opcode filter values.
const (
	opAll = iota
	opText
	opBinary
	opControl
	opViolations
	numOps
)

var opNames = [numOps]string{"all", "text", "binary", "control", "violations"}

// batchMsg carries one batch from the Feed to the program.
type batchMsg struct{ b *batch }

// Model is the Bubble Tea model of the interface.
type Model struct {
	opt  Options
	in   <-chan *batch
	st   styles
	dark bool
	w, h int

	convs   []*conv
	byID    map[uint64]*conv
	cur     int // selected conversation, -1 when none
	convTop int

	focus  pane
	vis    []uint64 // seqs of the selected conversation's entries that pass the filters
	visTo  uint64   // entries below this seq were considered for vis
	sel    int      // index in vis
	tlTop  int
	follow bool
	rel    bool // relative times in the timeline

	paused  bool
	held    []*batch
	waiting bool // a command waits on the channel

	dirFilter int
	opFilter  int
	searching bool
	query     string // as typed
	sub       string // substring to find, when query is not a regexp
	re        *regexp.Regexp
	reErr     string

	mode       detailMode
	detail     viewport.Model
	detailKey  string
	detailHead string
	showHelp   bool
	note       string

	prog         Progress
	dropped      uint64
	done         bool
	runErr       error
	summary      string
	totalMsgs    uint64
	totalBytes   uint64
	rateWall     time.Time
	firstWall    time.Time
	rateBytes    uint64
	throughput   float64
	convsVisible int
}

// NewModel returns a model that reads batches from the Feed f. With a nil
// Feed the model shows nothing until batches are applied to it.
func NewModel(f *Feed, o Options) *Model {
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.MaxBodies <= 0 {
		o.MaxBodies = DefaultMaxBodies
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxHeld <= 0 {
		o.MaxHeld = 200
	}
	m := &Model{
		opt:    o,
		st:     newStyles(o.Color, true),
		dark:   true,
		byID:   map[uint64]*conv{},
		cur:    -1,
		follow: true,
		w:      80,
		h:      24,
		detail: viewport.New(),
	}
	if f != nil {
		m.in = f.ch
	}
	return m
}

// Init implements tea.Model.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{m.wait()}
	if m.opt.Color {
		cmds = append(cmds, tea.RequestBackgroundColor)
	}
	return tea.Batch(cmds...)
}

// wait returns the command that takes the next batch; it re-arms itself
// through Update.
func (m *Model) wait() tea.Cmd {
	if m.in == nil || m.waiting {
		return nil
	}
	m.waiting = true
	in := m.in
	return func() tea.Msg {
		b, ok := <-in
		if !ok {
			return nil
		}
		return batchMsg{b}
	}
}

// Update implements tea.Model.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case batchMsg:
		m.waiting = false
		if m.paused {
			m.held = append(m.held, msg.b)
			if len(m.held) >= m.opt.MaxHeld {
				return m, nil // stop taking batches: the Feed counts the drops
			}
			return m, m.wait()
		}
		m.apply(msg.b)
		if msg.b.done {
			return m, nil
		}
		return m, m.wait()
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.clamp()
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.st = newStyles(m.opt.Color, m.dark)
		m.detailKey = ""
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case tea.MouseWheelMsg:
		mo := msg.Mouse()
		p := m.paneAt(mo.X, mo.Y)
		d := 3
		if mo.Button == tea.MouseWheelUp {
			d = -3
		}
		m.scroll(p, d)
	case tea.MouseClickMsg:
		mo := msg.Mouse()
		if mo.Button == tea.MouseLeft {
			m.click(mo.X, mo.Y)
		}
	}
	return m, nil
}

// apply adds a batch to the model.
func (m *Model) apply(b *batch) {
	for i := range b.recs {
		m.applyRec(&b.recs[i])
	}
	for id, t := range b.lost {
		c := m.byID[id]
		if c == nil {
			c = m.newConv(id)
		}
		for d := 0; d < 2; d++ {
			c.msgs[d] += t.msgs[d]
			c.bytes[d] += t.bytes[d]
			m.totalMsgs += t.msgs[d]
			m.totalBytes += t.bytes[d]
		}
		c.violations += t.violations
		c.touch(t.last)
	}
	m.dropped = b.dropped
	m.prog = b.prog
	if !b.wall.IsZero() {
		if m.firstWall.IsZero() {
			m.firstWall = b.wall
		}
		if b.done {
			// The whole load: the average rate.
			if d := b.wall.Sub(m.firstWall); d > 0 {
				m.throughput = float64(m.totalBytes) / d.Seconds()
			}
		} else if m.rateWall.IsZero() {
			m.rateWall, m.rateBytes = b.wall, m.totalBytes
		} else if d := b.wall.Sub(m.rateWall); d >= time.Second {
			m.throughput = float64(m.totalBytes-m.rateBytes) / d.Seconds()
			m.rateWall, m.rateBytes = b.wall, m.totalBytes
		}
	}
	if b.done {
		m.done = true
		m.runErr = b.err
		m.summary = b.summary
	}
	if m.cur < 0 && len(m.convs) > 0 {
		m.selectConv(0)
	}
	m.extendVis()
	if m.follow && len(m.vis) > 0 {
		m.sel = len(m.vis) - 1
	}
	m.clamp()
}

func (m *Model) newConv(id uint64) *conv {
	c := &conv{id: id, num: len(m.convs) + 1}
	m.convs = append(m.convs, c)
	m.byID[id] = c
	return c
}

func (m *Model) applyRec(r *record) {
	c := m.byID[r.conv]
	if c == nil {
		if r.kind == recEnd && (r.sum == nil || !r.sum.IsWebSocket) {
			return // a TCP conversation that never spoke WebSocket
		}
		c = m.newConv(r.conv)
	}
	if r.client != "" || r.server != "" {
		c.client, c.server = r.client, r.server
	}
	switch r.kind {
	case recHandshake:
		c.hs = r.hs
		c.compressed = c.compressed || r.hs.Compressed
		c.touch(r.hs.Request.Time)
	case recMessage:
		mi := r.msg
		d := mi.Dir & 1
		c.msgs[d]++
		c.bytes[d] += mi.Length
		if mi.Opcode.IsControl() {
			c.controls++
		}
		if mi.Opcode == dissect.OpClose {
			c.closeSeen = true
		}
		if mi.Compressed {
			c.compressed = true
		}
		m.totalMsgs++
		m.totalBytes += mi.Length
		c.touch(mi.End)
		c.push(entry{kind: entMessage, msg: mi}, m.opt.MaxEntries, m.opt.MaxBodies)
	case recViolation:
		c.violations++
		c.touch(r.vio.Time)
		c.push(entry{kind: entViolation, vio: r.vio}, m.opt.MaxEntries, m.opt.MaxBodies)
	case recGap:
		c.gaps++
		g := r.gap
		c.touch(g.Time)
		c.push(entry{kind: entGap, gap: &g}, m.opt.MaxEntries, m.opt.MaxBodies)
	case recEnd:
		c.ended = true
		c.sum = r.sum
		if r.sum.Close.Sent[0] || r.sum.Close.Sent[1] {
			c.closeSeen = true
		}
		c.touch(r.sum.End)
	}
}

// selected returns the selected conversation or nil.
func (m *Model) selected() *conv {
	if m.cur < 0 || m.cur >= len(m.convs) {
		return nil
	}
	return m.convs[m.cur]
}

// selectedEntry returns the selected timeline entry or nil.
func (m *Model) selectedEntry() *entry {
	c := m.selected()
	if c == nil || m.sel < 0 || m.sel >= len(m.vis) {
		return nil
	}
	return c.entryAt(m.vis[m.sel])
}

func (m *Model) selectConv(i int) {
	if i < 0 || i >= len(m.convs) {
		return
	}
	if i != m.cur {
		m.cur = i
		m.rebuildVis()
		m.sel = 0
		if m.follow && len(m.vis) > 0 {
			m.sel = len(m.vis) - 1
		}
		m.tlTop = 0
	}
}

// match reports whether e passes the direction, opcode and search filters.
func (m *Model) match(e *entry) bool {
	switch m.dirFilter {
	case dirClient:
		if e.dir() != dissect.FromClient {
			return false
		}
	case dirServer:
		if e.dir() != dissect.FromServer {
			return false
		}
	}
	switch m.opFilter {
	case opText:
		if e.kind != entMessage || e.msg.Opcode != dissect.OpText {
			return false
		}
	case opBinary:
		if e.kind != entMessage || e.msg.Opcode != dissect.OpBinary {
			return false
		}
	case opControl:
		if e.kind != entMessage || !e.msg.Opcode.IsControl() {
			return false
		}
	case opViolations:
		if e.kind == entMessage {
			return false
		}
	}
	if m.re == nil && m.sub == "" {
		return true
	}
	var text []byte
	switch e.kind {
	case entMessage:
		text = e.msg.Body
		if e.msg.Opcode == dissect.OpClose {
			text = []byte(e.msg.CloseReason)
		}
	case entViolation:
		text = []byte(e.vio.Code + " " + e.vio.Detail)
	default:
		return false
	}
	if m.re != nil {
		return m.re.Match(text)
	}
	return strings.Contains(string(text), m.sub)
}

// rebuildVis recomputes the filtered timeline of the selected conversation,
// keeping the selection on the same entry when it still passes.
func (m *Model) rebuildVis() {
	var keep uint64
	hadSel := false
	if e := m.selectedEntry(); e != nil {
		keep, hadSel = e.seq, true
	}
	m.vis = m.vis[:0]
	m.visTo = 0
	c := m.selected()
	if c != nil {
		m.visTo = c.firstSeq
	}
	m.extendVis()
	m.sel = 0
	if hadSel {
		for i, s := range m.vis {
			if s >= keep {
				m.sel = i
				break
			}
		}
	}
	m.clamp()
}

// extendVis adds the entries that arrived since the last call, and drops
// those trimmed from the front.
func (m *Model) extendVis() {
	c := m.selected()
	if c == nil {
		return
	}
	if len(m.vis) > 0 && m.vis[0] < c.firstSeq {
		n := 0
		for n < len(m.vis) && m.vis[n] < c.firstSeq {
			n++
		}
		m.vis = append(m.vis[:0], m.vis[n:]...)
		m.sel = max(0, m.sel-n)
		m.tlTop = max(0, m.tlTop-n)
	}
	if m.visTo < c.firstSeq {
		m.visTo = c.firstSeq
	}
	for s := m.visTo; s < c.nextSeq; s++ {
		if m.match(c.entryAt(s)) {
			m.vis = append(m.vis, s)
		}
	}
	m.visTo = c.nextSeq
}

// setQuery applies a search: a substring, or a regular expression after
// "re:". An invalid expression is reported and filters nothing.
func (m *Model) setQuery(q string) {
	m.query, m.sub, m.re, m.reErr = q, "", nil, ""
	if rest, ok := strings.CutPrefix(q, "re:"); ok {
		if rest != "" {
			re, err := regexp.Compile(rest)
			if err != nil {
				m.reErr = err.Error()
			} else {
				m.re = re
			}
		}
	} else {
		m.sub = q
	}
	m.rebuildVis()
}

// key handles one key press.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if s == "ctrl+c" {
		return tea.Quit
	}
	if m.searching {
		switch s {
		case "enter":
			m.searching = false
		case "esc":
			m.searching = false
			m.setQuery("")
		case "backspace":
			if r := []rune(m.query); len(r) > 0 {
				m.setQuery(string(r[:len(r)-1]))
			}
		case "ctrl+u":
			m.setQuery("")
		default:
			if k.Text != "" {
				m.setQuery(m.query + k.Text)
			}
		}
		return nil
	}
	if m.showHelp {
		m.showHelp = false
		if s == "q" {
			return tea.Quit
		}
		return nil
	}
	m.note = ""
	switch s {
	case "q":
		return tea.Quit
	case "?":
		m.showHelp = true
	case "tab":
		m.focus = (m.focus + 1) % numPanes
	case "shift+tab":
		m.focus = (m.focus + numPanes - 1) % numPanes
	case "enter":
		if m.focus < paneDetail {
			m.focus++
		}
	case "esc":
		if m.focus > paneConvs {
			m.focus--
		}
	case "down", "j":
		m.move(1)
	case "up", "k":
		m.move(-1)
	case "ctrl+d", "pgdown":
		m.move(m.paneRows(m.focus) / 2)
	case "ctrl+u", "pgup":
		m.move(-m.paneRows(m.focus) / 2)
	case "g", "home":
		m.move(-1 << 30)
	case "G", "end":
		m.move(1 << 30)
	case "/":
		m.searching = true
	case "d":
		m.dirFilter = (m.dirFilter + 1) % numDirs
		m.rebuildVis()
	case "o":
		m.opFilter = (m.opFilter + 1) % numOps
		m.rebuildVis()
	case "f":
		m.follow = !m.follow
		if m.follow && len(m.vis) > 0 {
			m.sel = len(m.vis) - 1
			m.clamp()
		}
	case "space":
		m.paused = !m.paused
		if !m.paused {
			held := m.held
			m.held = nil
			for _, b := range held {
				m.apply(b)
			}
			if m.done {
				return nil
			}
			return m.wait()
		}
	case "t":
		m.rel = !m.rel
	case "v":
		m.mode = (m.mode + 1) % numModes
	case "h":
		m.mode = modeHandshake
	case "e":
		m.note = m.export()
	}
	return nil
}

// move moves the selection of the focused pane by d rows.
func (m *Model) move(d int) {
	switch m.focus {
	case paneConvs:
		if len(m.convs) == 0 {
			return
		}
		m.selectConv(clampInt(m.cur+d, 0, len(m.convs)-1))
	case paneTimeline:
		if len(m.vis) == 0 {
			return
		}
		m.sel = clampInt(m.sel+d, 0, len(m.vis)-1)
		if d < 0 {
			m.follow = false
		}
	case paneDetail:
		m.detail.SetYOffset(m.detail.YOffset() + d)
	}
	m.clamp()
}

// scroll scrolls pane p by d rows (mouse wheel): the selection moves with it.
func (m *Model) scroll(p pane, d int) {
	if p < 0 {
		return
	}
	f := m.focus
	m.focus = p
	m.move(d)
	m.focus = f
}

func clampInt(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// clamp keeps selections in range and visible.
func (m *Model) clamp() {
	l := m.layout()
	if n := len(m.convs); n > 0 {
		m.cur = clampInt(m.cur, 0, n-1)
		m.convTop = scrollTop(m.convTop, m.cur, l.convRows-1, n)
	}
	if n := len(m.vis); n > 0 {
		m.sel = clampInt(m.sel, 0, n-1)
		m.tlTop = scrollTop(m.tlTop, m.sel, l.tlRows, n)
	} else {
		m.sel, m.tlTop = 0, 0
	}
}

// scrollTop returns the first row to show so that sel is visible.
func scrollTop(top, sel, rows, n int) int {
	if rows <= 0 {
		return sel
	}
	if sel < top {
		top = sel
	}
	if sel >= top+rows {
		top = sel - rows + 1
	}
	return clampInt(top, 0, max(0, n-rows))
}

// matches returns how many timeline entries pass the filters.
func (m *Model) matches() int { return len(m.vis) }

func (m *Model) fmtTime(t time.Time, c *conv) string {
	if t.IsZero() {
		return ""
	}
	if m.rel && c != nil && !c.first.IsZero() {
		return fmt.Sprintf("+%.3fs", t.Sub(c.first).Seconds())
	}
	return t.In(m.opt.Location).Format("15:04:05.000")
}
