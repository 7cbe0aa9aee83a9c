package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// sty is one style of the interface. With colours off it renders text
// unchanged, so the view holds no escape sequence at all.
type sty struct {
	on bool
	st lipgloss.Style
}

func (s sty) r(text string) string {
	if !s.on || text == "" {
		return text
	}
	return s.st.Render(text)
}

// styles are the styles of the interface, chosen for the terminal's
// background (light or dark).
type styles struct {
	on                  bool
	title, titleFocus   sty
	selected, selFocus  sty
	header              sty
	client, server      sty
	control, violation  sty
	gap, dim, status    sty
	jsonKey, jsonString sty
	jsonNumber, jsonLit sty
	jsonPunct, errText  sty
	match               sty
}

func newStyles(colorOn, dark bool) styles {
	ld := lipgloss.LightDark(dark)
	c := func(light, darkc string) color.Color {
		return ld(lipgloss.Color(light), lipgloss.Color(darkc))
	}
	mk := func(st lipgloss.Style) sty { return sty{on: colorOn, st: st} }
	n := lipgloss.NewStyle
	return styles{
		on:         colorOn,
		title:      mk(n().Foreground(c("#4a4a4a", "#b0b0b0"))),
		titleFocus: mk(n().Bold(true).Foreground(c("#005fd7", "#5fafff"))),
		selected:   mk(n().Background(c("#d0d0d0", "#3a3a3a"))),
		selFocus:   mk(n().Background(c("#005fd7", "#005faf")).Foreground(lipgloss.Color("#ffffff"))),
		header:     mk(n().Bold(true)),
		client:     mk(n().Foreground(c("#005f87", "#5fd7ff"))),
		server:     mk(n().Foreground(c("#5f8700", "#afd75f"))),
		control:    mk(n().Foreground(c("#875f00", "#d7af5f"))),
		violation:  mk(n().Foreground(c("#af0000", "#ff5f5f")).Bold(true)),
		gap:        mk(n().Foreground(c("#875f87", "#d787d7"))),
		dim:        mk(n().Foreground(c("#767676", "#8a8a8a"))),
		status:     mk(n().Background(c("#e4e4e4", "#262626")).Foreground(c("#262626", "#e4e4e4"))),
		jsonKey:    mk(n().Foreground(c("#005f87", "#5fd7ff"))),
		jsonString: mk(n().Foreground(c("#5f8700", "#afd75f"))),
		jsonNumber: mk(n().Foreground(c("#875f00", "#d7af5f"))),
		jsonLit:    mk(n().Foreground(c("#870087", "#d787ff"))),
		jsonPunct:  mk(n().Foreground(c("#767676", "#8a8a8a"))),
		errText:    mk(n().Foreground(c("#af0000", "#ff5f5f"))),
		match:      mk(n().Underline(true)),
	}
}
