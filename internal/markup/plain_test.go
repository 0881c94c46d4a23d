package markup

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// The fast path for plain text gives exactly what the full pipeline gives,
// for texts made of the characters it accepts and of what comes close to
// Markdown with them (list numbers, "www.", spaces at the ends, dashes).
func TestPlainFastPathMatches(t *testing.T) {
	r := New()
	slow := func(text string) string {
		html, mentions := r.renderFull(text)
		if len(mentions) > 0 {
			t.Fatalf("%q: mentions %v from a plain text", text, mentions)
		}
		return html
	}
	pieces := []string{"a", "Z", "hello", "0", "1.", "12.", "2024.", "3)", " ", "  ", ",", ".", "?", "-", "--", "---", ";", "%", "$",
		"www.", "WWW.", "example", "com", "中文", "聊天室", "é", "😀", "\u00a0", "\u2028", "\u200b", "\ufeff", "\u3000", "\u0085", "Ａ", "ｗｗｗ．", "ok", "1", "x-y", "e.g.", "...", "- ", "1. ", "$5", "100%"}
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := 1 + rng.IntN(8); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		text := b.String()
		if !plain(text) {
			continue
		}
		checked++
		if fast, want := "<p>"+text+"</p>", slow(text); fast != want {
			t.Fatalf("%q: fast path %q, full pipeline %q", text, fast, want)
		}
	}
	if checked < 2000 {
		t.Fatalf("only %d texts took the fast path; the test checks too little", checked)
	}
	for _, text := range []string{"1. item", "2024. a year", "- item", " lead", "trail ", "see www.example.com", "a*b*", "x_y_", "<b>", "@bob", "a\nb", "`c`"} {
		if plain(text) {
			t.Errorf("%q taken as plain", text)
		}
	}
}

// BenchmarkRenderPlain: a line of plain words takes the fast path
// (BenchmarkRender has one with Markdown).
func BenchmarkRenderPlain(b *testing.B) {
	r := New()
	b.ReportAllocs()
	for b.Loop() {
		r.Render("see you at the meeting tomorrow, 10 past 3")
	}
}
