package markup

import (
	"bytes"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/util"
)

// chatRenderer overrides goldmark's HTML renderer where chat differs from a
// document: raw HTML is shown escaped, links are checked (links.go), images
// are links, headings are bold paragraphs, and mentions are marked up.
type chatRenderer struct{}

// RegisterFuncs implements renderer.NodeRenderer.
func (chatRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, renderRawHTML)
	reg.Register(ast.KindHTMLBlock, renderHTMLBlock)
	reg.Register(ast.KindHeading, renderHeading)
	reg.Register(ast.KindLink, renderLink)
	reg.Register(ast.KindAutoLink, renderAutoLink)
	reg.Register(ast.KindImage, renderImage)
	reg.Register(kindMention, renderMention)
}

// renderRawHTML writes inline HTML ("a <b>b</b>") as the escaped text the
// user typed. A newline inside it is a line break, as everywhere in chat.
func renderRawHTML(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	segs := n.(*ast.RawHTML).Segments
	for i := 0; i < segs.Len(); i++ {
		seg := segs.At(i)
		writeEscapedLines(w, seg.Value(src), "<br>\n")
	}
	return ast.WalkSkipChildren, nil
}

// renderHTMLBlock writes an HTML block ("<script>…</script>" on its own
// lines) as a paragraph of the escaped text the user typed, one line of
// source per line of output.
func renderHTMLBlock(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	b := n.(*ast.HTMLBlock)
	_, _ = w.WriteString("<p>")
	lines := b.Lines()
	for i := 0; i < lines.Len(); i++ {
		if i > 0 {
			_, _ = w.WriteString("<br>\n")
		}
		seg := lines.At(i)
		writeEscapedLines(w, trimNewline(seg.Value(src)), "")
	}
	if b.HasClosure() {
		if lines.Len() > 0 {
			_, _ = w.WriteString("<br>\n")
		}
		writeEscapedLines(w, trimNewline(b.ClosureLine.Value(src)), "")
	}
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

// writeEscapedLines writes s HTML-escaped, with each "\n" (and a "\r"
// before it) replaced by br; an empty br keeps the newline as is.
func writeEscapedLines(w util.BufWriter, s []byte, br string) {
	for len(s) > 0 {
		i := bytes.IndexByte(s, '\n')
		if i < 0 || br == "" {
			_, _ = w.Write(util.EscapeHTML(s))
			return
		}
		_, _ = w.Write(util.EscapeHTML(trimNewline(s[:i+1])))
		_, _ = w.WriteString(br)
		s = s[i+1:]
	}
}

func trimNewline(s []byte) []byte {
	s = bytes.TrimSuffix(s, []byte("\n"))
	return bytes.TrimSuffix(s, []byte("\r"))
}

// renderHeading writes a heading of any level as a bold paragraph: chat has
// no giant headings.
func renderHeading(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		_, _ = w.WriteString("<p><strong>")
	} else {
		_, _ = w.WriteString("</strong></p>\n")
	}
	return ast.WalkContinue, nil
}

// renderMention writes a mention as a span carrying the nickname's key. In
// a link's text it is plain text: a link is not a mention.
func renderMention(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkSkipChildren, nil
	}
	m := n.(*mentionNode)
	// The parser accepted only the nickname alphabet (letters, digits,
	// "_-."): nothing to escape.
	if insideLink(m) {
		_ = w.WriteByte('@')
		_, _ = w.WriteString(m.nick)
		return ast.WalkSkipChildren, nil
	}
	_, _ = w.WriteString(`<span class="mention" data-nick="`)
	_, _ = w.WriteString(m.key)
	_, _ = w.WriteString(`">@`)
	_, _ = w.WriteString(m.nick)
	_, _ = w.WriteString("</span>")
	return ast.WalkSkipChildren, nil
}
