package markup

import (
	"bytes"
	"net/url"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/util"
)

// renderLink writes [text](url) as an <a> if url is allowed, and as its
// text alone otherwise. The link title is dropped.
func renderLink(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if href := linkHref(n, n.(*ast.Link).Destination); href != nil {
		if entering {
			openLink(w, href)
		} else {
			_, _ = w.WriteString("</a>")
		}
	}
	return ast.WalkContinue, nil
}

// renderImage writes ![alt](url) as a link whose text is alt, or url when
// alt is empty: chat never loads a remote image.
func renderImage(w util.BufWriter, src []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	img := n.(*ast.Image)
	href := linkHref(n, img.Destination)
	if !entering {
		if href != nil {
			_, _ = w.WriteString("</a>")
		}
		return ast.WalkContinue, nil
	}
	if href != nil {
		openLink(w, href)
	}
	if !img.HasChildren() {
		_, _ = w.Write(util.EscapeHTML(img.Destination))
	}
	return ast.WalkContinue, nil
}

// renderAutoLink writes <scheme:…>, <a@b.c> and what linkify found (bare
// URLs, www., e-mail addresses) as a link if the URL is allowed, and as
// text otherwise.
func renderAutoLink(w util.BufWriter, src []byte, node ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		return ast.WalkContinue, nil
	}
	n := node.(*ast.AutoLink)
	href := util.URLEscape(n.URL(src), false)
	if n.AutoLinkType == ast.AutoLinkEmail && !hasPrefixFold(href, "mailto:") {
		href = append([]byte("mailto:"), href...)
	}
	ok := !insideLink(n) && allowedURL(href)
	if ok {
		openLink(w, href)
	}
	_, _ = w.Write(util.EscapeHTML(n.Label(src)))
	if ok {
		_, _ = w.WriteString("</a>")
	}
	return ast.WalkContinue, nil
}

// linkHref returns the href of a link or image to dest, or nil if it must
// not be a link: its URL is not allowed, or it is inside another link.
// Character references are resolved first, so "&#106;avascript:" is seen
// as the "javascript:" a browser would see.
func linkHref(n ast.Node, dest []byte) []byte {
	if insideLink(n) {
		return nil
	}
	href := util.URLEscape(dest, true)
	if !allowedURL(href) {
		return nil
	}
	return href
}

func openLink(w util.BufWriter, href []byte) {
	_, _ = w.WriteString(`<a href="`)
	_, _ = w.Write(util.EscapeHTML(href))
	_, _ = w.WriteString(`" target="_blank" rel="` + relValue + `">`)
}

// allowedURL reports whether href may be a link: an absolute http or https
// URL with a host, or a mailto URL with an address. Everything else —
// javascript:, vbscript:, data:, file:, relative URLs, unparsable ones —
// is not.
func allowedURL(href []byte) bool {
	u, err := url.Parse(string(href))
	if err != nil {
		return false
	}
	switch u.Scheme { // url.Parse lower-cases the scheme
	case "http", "https":
		return u.Host != ""
	case "mailto":
		return u.Opaque != ""
	}
	return false
}

// insideLink reports whether n is part of a link's (or image's) text.
func insideLink(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		switch p.Kind() {
		case ast.KindLink, ast.KindAutoLink, ast.KindImage:
			return true
		}
	}
	return false
}

func hasPrefixFold(s []byte, prefix string) bool {
	return len(s) >= len(prefix) && bytes.EqualFold(s[:len(prefix)], []byte(prefix))
}
