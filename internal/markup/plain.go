package markup

import (
	"strings"
)

// Most chat messages are a line of plain words. For those the whole
// Markdown pipeline (parse, render, sanitize: most of the server's CPU per
// message after the store) gives "<p>" + text + "</p>", so Render answers
// them directly. plain is deliberately narrow: only characters that can
// neither start nor take part in any Markdown, link, mention or HTML
// construct; anything else goes the full way. TestPlainFastPathMatches
// checks the two agree.

// plain reports whether text renders as itself in one paragraph.
func plain(text string) bool {
	if text == "" || text[0] == ' ' || text[len(text)-1] == ' ' || text[0] == '-' {
		return false
	}
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c >= 0x80: // UTF-8 beyond ASCII: letters, CJK, emoji
		case c == ' ' || c == ',' || c == '.' || c == '?' || c == '-' || c == ';' || c == '%' || c == '$':
		default:
			return false
		}
	}
	// An ordered list item ("1. ", "2024.") and Linkify's "www." are made
	// of these characters too.
	if i := strings.IndexFunc(text, func(r rune) bool { return r < '0' || r > '9' }); i > 0 && text[i] == '.' {
		return false
	}
	return !strings.Contains(strings.ToLower(text), "www.")
}
