package tui

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/wsdump/wsdump/dissect"
	"github.com/wsdump/wsdump/report"
)

// wideWidth is the width from which the timeline and the payload view
// stand side by side.
const wideWidth = 140

// layoutInfo places the panes: each has a title line and rows below it.
type layoutInfo struct {
	convY, convRows int
	tlY, tlRows     int
	tlW             int
	detY, detRows   int
	detX, detW      int
	footerY         int
}

func (m *Model) layout() layoutInfo {
	w, h := max(m.w, 20), max(m.h, 8)
	avail := h - 2 // footer and status bar
	var l layoutInfo
	l.convRows = clampInt((avail-3)/4, 2, 12)
	l.convY = 0
	rest := avail - 1 - l.convRows
	l.tlY = l.convY + 1 + l.convRows
	if w >= wideWidth {
		l.tlW = w * 11 / 20
		l.tlRows = rest - 1
		l.detY, l.detRows = l.tlY, rest-1
		l.detX, l.detW = l.tlW+1, w-l.tlW-1
	} else {
		l.tlW = w
		l.tlRows = max(1, (rest-2)*11/20)
		l.detY = l.tlY + 1 + l.tlRows
		l.detRows = max(1, rest-2-l.tlRows)
		l.detX, l.detW = 0, w
	}
	l.footerY = avail
	return l
}

// paneRows returns the rows of pane p.
func (m *Model) paneRows(p pane) int {
	l := m.layout()
	switch p {
	case paneConvs:
		return l.convRows
	case paneTimeline:
		return l.tlRows
	}
	return l.detRows
}

// paneAt returns the pane at screen cell (x, y), or -1.
func (m *Model) paneAt(x, y int) pane {
	l := m.layout()
	switch {
	case y >= l.convY && y <= l.convY+l.convRows:
		return paneConvs
	case y >= l.tlY && y <= l.tlY+l.tlRows && x < l.tlW:
		return paneTimeline
	case y >= l.detY && y <= l.detY+l.detRows && x >= l.detX:
		return paneDetail
	}
	return -1
}

// click focuses the pane under (x, y) and selects the row clicked.
func (m *Model) click(x, y int) {
	p := m.paneAt(x, y)
	if p < 0 {
		return
	}
	m.focus = p
	l := m.layout()
	switch p {
	case paneConvs:
		if r := y - l.convY - 2; r >= 0 && len(m.convs) > 0 {
			m.selectConv(min(m.convTop+r, len(m.convs)-1))
		}
	case paneTimeline:
		if r := y - l.tlY - 1; r >= 0 && m.tlTop+r < len(m.vis) {
			m.sel = m.tlTop + r
			m.follow = false
		}
	}
	m.clamp()
}

// fit cuts or pads plain text to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "…")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

// padRight pads a styled string to w cells, or cuts it.
func padRight(s string, w int) string {
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-sw)
}

// humanBytes formats a byte count compactly.
func humanBytes(n uint64) string {
	switch {
	case n < 1000:
		return strconv.FormatUint(n, 10) + "B"
	case n < 1000*1000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1fG", float64(n)/1e9)
}

// humanCount formats a count in at most 5 cells.
func humanCount(n uint64) string {
	switch {
	case n < 100000:
		return strconv.FormatUint(n, 10)
	case n < 10000000:
		return fmt.Sprintf("%dk", n/1000)
	case n < 10000000000:
		return fmt.Sprintf("%dM", n/1000000)
	}
	return fmt.Sprintf("%dG", n/1000000000)
}

// View implements tea.Model.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "wsdump " + report.Safe(m.opt.Source)
	if !m.done && m.prog.Size > 0 {
		// Terminals that show a progress bar (OSC 9;4) show the loading.
		pct := int(m.prog.BytesRead * 100 / m.prog.Size)
		v.ProgressBar = tea.NewProgressBar(tea.ProgressBarDefault, clampInt(pct, 0, 100))
	}
	return v
}

// Render returns the screen as text: m.h lines of m.w cells.
func (m *Model) Render() string {
	w := max(m.w, 20)
	l := m.layout()
	lines := make([]string, 0, m.h)
	if m.showHelp {
		lines = append(lines, m.helpLines(w, l.footerY)...)
	} else {
		lines = append(lines, m.convLines(w, l)...)
		if l.detX > 0 {
			tl := m.timelineLines(l.tlW, l)
			det := m.detailLines(l.detW, l.detRows)
			for i := range tl {
				sep := "│"
				lines = append(lines, tl[i]+m.st.dim.r(sep)+det[i])
			}
		} else {
			lines = append(lines, m.timelineLines(w, l)...)
			lines = append(lines, m.detailLines(w, l.detRows)...)
		}
	}
	if len(lines) > l.footerY {
		lines = lines[:l.footerY]
	}
	for len(lines) < l.footerY {
		lines = append(lines, strings.Repeat(" ", w))
	}
	lines = append(lines, m.footer(w), m.statusBar(w))
	return strings.Join(lines, "\n")
}

// title renders a pane title line.
func (m *Model) title(text string, w int, focused bool) string {
	mark := "  "
	if focused {
		mark = "▶ "
	}
	s := fit(mark+text+" ", w)
	if n := strings.TrimRight(s, " "); len(n) < len(s) {
		s = n + " " + strings.Repeat("─", max(0, w-ansi.StringWidth(n)-1))
	}
	if focused {
		return m.st.titleFocus.r(s)
	}
	return m.st.title.r(s)
}

// row renders a list row, marking the selection.
func (m *Model) row(text string, w int, selected, focused bool) string {
	mark := "  "
	if selected {
		mark = "> "
	}
	s := fit(mark+text, w)
	switch {
	case selected && focused:
		return m.st.selFocus.r(s)
	case selected:
		return m.st.selected.r(s)
	}
	return s
}

// convColumn is one column of the conversation list.
type convColumn struct {
	name  string
	width int
	right bool
	cell  func(c *conv) string
}

func (m *Model) convColumns(w int) (cols []convColumn, flex int) {
	all := []convColumn{
		{"#", 3, true, func(c *conv) string { return strconv.Itoa(c.num) }},
		{"state", 8, false, func(c *conv) string { return c.state() }},
		{"c→s", 5, true, func(c *conv) string { return humanCount(c.msgs[0]) }},
		{"bytes", 6, true, func(c *conv) string { return humanBytes(c.bytes[0]) }},
		{"s→c", 5, true, func(c *conv) string { return humanCount(c.msgs[1]) }},
		{"bytes", 6, true, func(c *conv) string { return humanBytes(c.bytes[1]) }},
		{"viol", 4, true, func(c *conv) string { return humanCount(c.violations) }},
		{"z", 1, false, func(c *conv) string {
			if c.compressed {
				return "Z"
			}
			return ""
		}},
		{"msg/s", 6, true, func(c *conv) string { return fmt.Sprintf("%.1f", c.rate()) }},
		{"last", 12, false, func(c *conv) string { return m.fmtTime(c.last, nil) }},
		{"subproto", 10, false, func(c *conv) string {
			if c.hs == nil {
				return ""
			}
			return report.Safe(c.hs.Subprotocol)
		}},
	}
	used := 2
	const minFlex = 30
	for _, col := range all {
		if used+col.width+1+minFlex > w {
			break
		}
		cols = append(cols, col)
		used += col.width + 1
	}
	return cols, w - used
}

func (m *Model) convLines(w int, l layoutInfo) []string {
	out := make([]string, 0, 1+l.convRows)
	cols, flex := m.convColumns(w)
	out = append(out, m.title(fmt.Sprintf("Conversations (%d)", len(m.convs)), w, m.focus == paneConvs))
	// The endpoints and the host/path take the room the numbers leave,
	// after the number and the state.
	line := func(c *conv, ep string) string {
		var b strings.Builder
		at := min(2, len(cols))
		for i, col := range cols {
			if i == at {
				b.WriteString(fit(ep, flex-1))
				b.WriteByte(' ')
			}
			if c == nil {
				b.WriteString(cell(col.name, col.width, col.right))
			} else {
				b.WriteString(cell(col.cell(c), col.width, col.right))
			}
			b.WriteByte(' ')
		}
		if at == len(cols) {
			b.WriteString(ep)
		}
		return b.String()
	}
	out = append(out, m.st.header.r(fit("  "+line(nil, "client → server  host/path"), w)))
	rows := l.convRows - 1
	for r := 0; r < rows; r++ {
		i := m.convTop + r
		if i >= len(m.convs) {
			if r == 0 {
				out = append(out, fit("  no WebSocket conversation yet", w))
			} else {
				out = append(out, strings.Repeat(" ", w))
			}
			continue
		}
		c := m.convs[i]
		ep := report.Safe(c.client) + " → " + report.Safe(c.server)
		if hp := c.hostPath(); hp != "" {
			ep += "  " + report.Safe(hp)
		}
		out = append(out, m.row(line(c, ep), w, i == m.cur, m.focus == paneConvs))
	}
	return out
}

// cell fits s to w cells, aligned right or left.
func cell(s string, w int, right bool) string {
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	if right {
		return strings.Repeat(" ", w-sw) + s
	}
	return s + strings.Repeat(" ", w-sw)
}

func (m *Model) timelineTitle() string {
	c := m.selected()
	if c == nil {
		return "Messages"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Messages of #%d (%d shown", c.num, len(m.vis))
	if c.trimmed > 0 {
		fmt.Fprintf(&b, ", %d oldest not kept", c.trimmed)
	}
	b.WriteString(")")
	if m.dirFilter != dirAll {
		b.WriteString("  dir:" + dirNames[m.dirFilter])
	}
	if m.opFilter != opAll {
		b.WriteString("  op:" + opNames[m.opFilter])
	}
	if m.query != "" {
		fmt.Fprintf(&b, "  /%s", report.Safe(m.query))
	}
	if m.follow {
		b.WriteString("  [follow]")
	}
	return b.String()
}

func (m *Model) timelineLines(w int, l layoutInfo) []string {
	out := make([]string, 0, 1+l.tlRows)
	out = append(out, m.title(m.timelineTitle(), w, m.focus == paneTimeline))
	c := m.selected()
	for r := 0; r < l.tlRows; r++ {
		i := m.tlTop + r
		if c == nil || i >= len(m.vis) {
			out = append(out, strings.Repeat(" ", w))
			continue
		}
		e := c.entryAt(m.vis[i])
		if e == nil {
			out = append(out, strings.Repeat(" ", w))
			continue
		}
		sel := i == m.sel
		text := m.entryLine(c, e)
		line := m.row(text, w, sel, m.focus == paneTimeline)
		if !sel && m.st.on {
			line = m.entryStyle(e).r(line)
		}
		out = append(out, line)
	}
	return out
}

func (m *Model) entryStyle(e *entry) sty {
	switch e.kind {
	case entViolation:
		return m.st.violation
	case entGap:
		return m.st.gap
	}
	if e.msg.Opcode.IsControl() {
		return m.st.control
	}
	if e.msg.Dir == dissect.FromClient {
		return m.st.client
	}
	return m.st.server
}

func arrow(d dissect.Direction) string {
	if d == dissect.FromClient {
		return "→"
	}
	return "←"
}

// entryLine renders one timeline entry as plain, safe text.
func (m *Model) entryLine(c *conv, e *entry) string {
	var b strings.Builder
	b.WriteString(cell(m.fmtTime(e.time(), c), 12, false))
	b.WriteByte(' ')
	b.WriteString(arrow(e.dir()))
	b.WriteByte(' ')
	switch e.kind {
	case entViolation:
		fmt.Fprintf(&b, "!! %s: %s", report.Safe(e.vio.Code), report.Safe(e.vio.Detail))
		if e.vio.HasFrame {
			fmt.Fprintf(&b, " (frame %d)", e.vio.Frame)
		}
		return b.String()
	case entGap:
		fmt.Fprintf(&b, "~~ gap: %d bytes not captured", e.gap.Length)
		return b.String()
	}
	mi := &e.msg
	b.WriteString(cell(mi.Opcode.String(), 6, false))
	b.WriteString(cell(humanBytes(mi.Length), 7, true))
	b.WriteByte(' ')
	var marks strings.Builder
	if mi.Frames > 1 {
		fmt.Fprintf(&marks, "F%d", mi.Frames)
	}
	if mi.Compressed {
		marks.WriteByte('Z')
	}
	if mi.Incomplete {
		marks.WriteByte('!')
	}
	if mi.InflateErr != "" {
		marks.WriteByte('?')
	}
	b.WriteString(cell(marks.String(), 4, false))
	b.WriteByte(' ')
	switch {
	case mi.Opcode == dissect.OpClose:
		if mi.HasCloseCode {
			fmt.Fprintf(&b, "%d %s", mi.CloseCode, report.Safe(mi.CloseReason))
		} else {
			b.WriteString("(no code)")
		}
	case mi.Opcode == dissect.OpPong && mi.HasRTT:
		fmt.Fprintf(&b, "rtt %s %s", mi.RTT, preview(mi.Body, false))
	case e.bodyDropped:
		b.WriteString("[body dropped]")
	default:
		b.WriteString(preview(mi.Body, mi.Opcode == dissect.OpBinary && !mi.ValidUTF8))
		if mi.Truncated && len(mi.Body) <= 96 {
			b.WriteString(" …")
		}
	}
	return b.String()
}

// preview renders the start of a payload on one line.
func preview(body []byte, binary bool) string {
	const n = 96
	if binary {
		k := min(len(body), 24)
		var b strings.Builder
		for i, c := range body[:k] {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%02x", c)
		}
		if k < len(body) {
			b.WriteString(" …")
		}
		return b.String()
	}
	return string(report.AppendSafe(nil, body, n))
}

// detailLines renders the payload or handshake pane: a title line and rows
// lines of width w.
func (m *Model) detailLines(w, rows int) []string {
	c := m.selected()
	e := m.selectedEntry()
	key := fmt.Sprintf("%p/%d/%d/%d/%v", c, m.mode, w, rows, m.st.on)
	if e != nil {
		key += fmt.Sprintf("/%d/%v", e.seq, e.bodyDropped)
	}
	if c != nil && m.mode == modeHandshake {
		key += fmt.Sprintf("/%p", c.hs)
	}
	if key != m.detailKey {
		m.detailKey = key
		head, lines := m.detailContent(c, e, w)
		m.detailHead = head
		m.detail.SetWidth(w)
		m.detail.SetHeight(rows)
		m.detail.SetContentLines(lines)
		m.detail.GotoTop()
	}
	title := modeNames[m.mode]
	if m.detailHead != "" {
		title += ": " + m.detailHead
	}
	if n := m.detail.TotalLineCount(); n > rows {
		title += fmt.Sprintf("  [%d-%d/%d]", m.detail.YOffset()+1, min(n, m.detail.YOffset()+rows), n)
	}
	out := make([]string, 0, rows+1)
	out = append(out, m.title(title, w, m.focus == paneDetail))
	body := strings.Split(m.detail.View(), "\n")
	for i := 0; i < rows; i++ {
		s := ""
		if i < len(body) {
			s = body[i]
		}
		out = append(out, padRight(s, w))
	}
	return out
}

// detailContent builds the heading and the lines of the detail pane.
func (m *Model) detailContent(c *conv, e *entry, w int) (string, []string) {
	if c == nil {
		return "", nil
	}
	if m.mode == modeHandshake {
		return m.handshakeContent(c, w)
	}
	if e == nil {
		return "", []string{"no message selected"}
	}
	switch e.kind {
	case entViolation:
		v := e.vio
		return "violation", []string{
			"code:     " + report.Safe(v.Code),
			"severity: " + v.Severity.String(),
			"from:     " + v.Dir.String(),
			"rfc:      " + report.Safe(v.Ref),
			"detail:   " + report.Safe(v.Detail),
		}
	case entGap:
		return "gap", []string{fmt.Sprintf("%d bytes from the %s were not captured at stream offset %d", e.gap.Length, e.gap.Dir, e.gap.Offset)}
	}
	mi := &e.msg
	head := fmt.Sprintf("%s %s, %d bytes, %d frame(s)", mi.Dir, mi.Opcode, mi.Length, mi.Frames)
	if mi.Compressed {
		head += ", compressed"
	}
	var lines []string
	if mi.Truncated {
		lines = append(lines, fmt.Sprintf("(first %d of %d bytes kept)", len(mi.Body), mi.Length))
	}
	if mi.InflateErr != "" {
		lines = append(lines, "inflate failed: "+report.Safe(mi.InflateErr))
	}
	if mi.Incomplete {
		lines = append(lines, "incomplete: the final frame was not seen")
	}
	if mi.Opcode == dissect.OpClose {
		if mi.HasCloseCode {
			lines = append(lines, fmt.Sprintf("close code %d, reason %q", mi.CloseCode, report.Safe(mi.CloseReason)))
		} else {
			lines = append(lines, "close frame without a code")
		}
	}
	if e.bodyDropped {
		return head, append(lines, "[body dropped: only the newest bodies of each conversation are kept]")
	}
	body := mi.Body
	switch {
	case len(body) == 0:
		lines = append(lines, "(empty payload)")
	case m.mode == modeHex || mi.Opcode == dissect.OpClose:
		lines = append(lines, hexLines(body, w)...)
	case mi.Opcode == dissect.OpBinary && !mi.ValidUTF8:
		lines = append(lines, hexLines(body, w)...)
	default:
		if mi.Opcode != dissect.OpBinary && isJSON(body) {
			head += ", JSON"
			lines = append(lines, jsonLines(body, w, &m.st)...)
		} else {
			lines = append(lines, textLines(body, w)...)
		}
		// The bytes as well, under the text.
		lines = append(lines, "", m.st.dim.r("hex:"))
		lines = append(lines, hexLines(body, w)...)
	}
	return head, lines
}

func (m *Model) handshakeContent(c *conv, w int) (string, []string) {
	if c.hs == nil {
		return "", []string{"no handshake captured (decoded from the first frame)"}
	}
	hs := c.hs
	var lines []string
	add := func(s string) { lines = append(lines, wrapPlain(s, w)...) }
	q := &hs.Request
	add(m.st.client.r(fmt.Sprintf("%s %s %s", report.Safe(q.Method), report.Safe(q.URI), report.Safe(q.Version))))
	for _, h := range q.Headers {
		add(report.Safe(h.Name) + ": " + report.Safe(h.Value))
	}
	lines = append(lines, "")
	if r := hs.Response; r != nil {
		add(m.st.server.r(fmt.Sprintf("%s %d %s", report.Safe(r.Version), r.StatusCode, report.Safe(r.Reason))))
		for _, h := range r.Headers {
			add(report.Safe(h.Name) + ": " + report.Safe(h.Value))
		}
	} else {
		add("(no response captured)")
	}
	head := string(hs.Protocol)
	if !hs.AcceptValid && hs.Response != nil && hs.Protocol == dissect.ProtoRFC6455 {
		head += ", accept key INVALID"
	}
	return head, lines
}

// footer is the line above the status bar: the search prompt, a note or
// the key hints.
func (m *Model) footer(w int) string {
	switch {
	case m.searching || m.query != "":
		s := "/" + report.Safe(m.query)
		if m.searching {
			s += "▏"
		}
		if m.reErr != "" {
			return m.st.errText.r(fit(s+"   invalid regex: "+report.Safe(m.reErr), w))
		}
		return fit(fmt.Sprintf("%s   %d match(es)", s, m.matches()), w)
	case m.note != "":
		return fit(m.note, w)
	}
	return m.st.dim.r(fit("? help  tab pane  enter open  / search  d dir  o opcode  f follow  space pause  v view  e export  q quit", w))
}

func (m *Model) statusBar(w int) string {
	var parts []string
	parts = append(parts, report.Safe(filepath.Base(m.opt.Source)))
	if m.done {
		if m.runErr != nil {
			parts = append(parts, "error: "+report.Safe(m.runErr.Error()))
		} else {
			parts = append(parts, "done")
		}
	} else if m.prog.Size > 0 {
		pct := float64(m.prog.BytesRead) * 100 / float64(m.prog.Size)
		parts = append(parts, fmt.Sprintf("loading %.0f%% (%s/%s)", pct, humanBytes(uint64(max(0, m.prog.BytesRead))), humanBytes(uint64(m.prog.Size))))
	} else {
		parts = append(parts, "live")
	}
	parts = append(parts,
		fmt.Sprintf("%d pkts", m.prog.Packets),
		fmt.Sprintf("%d convs", len(m.convs)),
		fmt.Sprintf("%d msgs", m.totalMsgs),
		humanBytes(uint64(m.throughput))+"/s",
		fmt.Sprintf("%d drops", m.dropped))
	if m.paused {
		parts = append(parts, fmt.Sprintf("PAUSED (%d held)", len(m.held)))
	} else if m.follow {
		parts = append(parts, "following")
	}
	return m.st.status.r(fit(" "+strings.Join(parts, " │ "), w))
}

func (m *Model) helpLines(w, rows int) []string {
	text := []string{
		"wsdump keys",
		"",
		"  ↑/k ↓/j         move          g/G home/end   top / bottom",
		"  ctrl+u/ctrl+d   half page     tab shift+tab  next / previous pane",
		"  enter           open          esc            back",
		"  /               search messages (substring; re:EXPR for a regular expression)",
		"  d               direction filter: all, client, server",
		"  o               opcode filter: all, text, binary, control, violations",
		"  f               follow new messages      space  pause / resume",
		"  v               payload / hex / handshake view      h  handshake",
		"  t               absolute / relative times",
		"  e               export the conversation as JSON (wsdump-conv-N.json)",
		"  q, ctrl+c       quit",
		"",
		"Timeline marks: → client to server, ← server to client, F3 fragments,",
		"Z compressed, ! incomplete, ? inflate failed, !! violation, ~~ gap.",
		"",
		"Press any key to close this help.",
	}
	out := make([]string, 0, rows)
	for i := 0; i < rows; i++ {
		s := ""
		if i < len(text) {
			s = text[i]
		}
		out = append(out, fit(s, w))
	}
	if len(out) > 0 {
		out[0] = m.st.header.r(out[0])
	}
	return out
}
