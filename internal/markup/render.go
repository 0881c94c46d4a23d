package markup

import (
	"bytes"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/util"

	"github.com/parley-chat/parley"
)

// chatRenderer overrides goldmark's HTML renderer where chat differs from a
// document: raw HTML is shown escaped, images are links, headings are bold
// paragraphs, and mentions are marked up.
type chatRenderer struct{}

// RegisterFuncs implements renderer.NodeRenderer.
func (chatRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindRawHTML, renderRawHTML)
	reg.Register(ast.KindHTMLBlock, renderHTMLBlock)
	reg.Register(ast.KindImage, renderImage)
	reg.Register(ast.KindHeading, renderHeading)
	reg.Register(kindMention, renderMention)
}

func renderRawHTML(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		segs := n.(*ast.RawHTML).Segments
		for i := 0; i < segs.Len(); i++ {
			seg := segs.At(i)
			_, _ = w.Write(util.EscapeHTML(seg.Value(src)))
		}
	}
	return ast.WalkSkipChildren, nil
}

func renderHTMLBlock(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	var raw bytes.Buffer
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		raw.Write(seg.Value(src))
	}
	if b := n.(*ast.HTMLBlock); b.HasClosure() {
		raw.Write(b.ClosureLine.Value(src))
	}
	_, _ = w.WriteString("<p>")
	for i, line := range bytes.Split(bytes.TrimRight(raw.Bytes(), "\n"), []byte("\n")) {
		if i > 0 {
			_, _ = w.WriteString("<br>\n")
		}
		_, _ = w.Write(util.EscapeHTML(line))
	}
	_, _ = w.WriteString("</p>\n")
	return ast.WalkSkipChildren, nil
}

func renderImage(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	img := n.(*ast.Image)
	link := !html.IsDangerousURL(img.Destination)
	if entering {
		if link {
			_, _ = w.WriteString(`<a href="`)
			_, _ = w.Write(util.EscapeHTML(util.URLEscape(img.Destination, true)))
			_, _ = w.WriteString(`">`)
		}
		if !img.HasChildren() {
			_, _ = w.Write(util.EscapeHTML(img.Destination))
		}
		return ast.WalkContinue, nil
	}
	if link {
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

func renderHeading(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if entering {
		_, _ = w.WriteString("<p><strong>")
	} else {
		_, _ = w.WriteString("</strong></p>\n")
	}
	return ast.WalkContinue, nil
}

func renderMention(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	m := n.(*mentionNode)
	nick := util.EscapeHTML([]byte(m.nick))
	if insideLink(m) {
		_, _ = w.WriteString("@")
		_, _ = w.Write(nick)
		return ast.WalkSkipChildren, nil
	}
	_, _ = w.WriteString(`<span class="mention" data-nick="`)
	_, _ = w.Write(util.EscapeHTML([]byte(parley.NickKey(m.nick))))
	_, _ = w.WriteString(`">@`)
	_, _ = w.Write(nick)
	_, _ = w.WriteString("</span>")
	return ast.WalkSkipChildren, nil
}
