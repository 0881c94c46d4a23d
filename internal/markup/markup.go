// Package markup renders chat messages: markdown → HTML that is safe to
// insert into a page, and the @mentions they contain.
//
// Rendering is done once per message, on the server, by goldmark
// (CommonMark with linkify, strikethrough and hard line breaks). Raw HTML
// typed by a user is shown escaped, never interpreted; images become links
// (chat never loads a remote image); headings become bold paragraphs.
// bluemonday then checks the output against the exact set of elements and
// attributes Parley emits, as a second wall: only http, https and mailto
// links survive, and every link opens in a new tab with
// rel="nofollow noreferrer noopener".
package markup

import (
	"bytes"
	"regexp"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"

	"github.com/parley-chat/parley"
)

// Renderer renders message text. It is safe for concurrent use; build one
// and share it.
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
	bufs   sync.Pool
}

// New returns a Renderer.
func New() *Renderer {
	md := goldmark.New(
		goldmark.WithExtensions(extension.Linkify, extension.Strikethrough),
		goldmark.WithParserOptions(parser.WithInlineParsers(util.Prioritized(mentionParser{}, 600))),
		goldmark.WithRendererOptions(
			html.WithHardWraps(),
			renderer.WithNodeRenderers(util.Prioritized(chatRenderer{}, 100)),
		),
	)
	return &Renderer{md: md, policy: newPolicy(), bufs: sync.Pool{New: func() any { return new(bytes.Buffer) }}}
}

// Render renders text to safe HTML and returns the nicknames it mentions
// with @, as typed, each once (by parley.NickKey), in order of appearance.
// Mentions inside code or links do not count.
func (r *Renderer) Render(text string) (html string, mentions []string) {
	src := []byte(text)
	doc := r.md.Parser().Parse(textReader(src))
	mentions = collectMentions(doc)
	buf := r.bufs.Get().(*bytes.Buffer)
	defer r.bufs.Put(buf)
	buf.Reset()
	if err := r.md.Renderer().Render(buf, src, doc); err != nil {
		// The renderer writes to memory and fails only on a bug: show the
		// text, escaped, rather than nothing.
		return "<p>" + string(util.EscapeHTML(src)) + "</p>", mentions
	}
	return string(bytes.TrimSpace(r.policy.SanitizeBytes(buf.Bytes()))), mentions
}

func textReader(src []byte) text.Reader { return text.NewReader(src) }

func collectMentions(doc ast.Node) []string {
	var out []string
	seen := map[string]bool{}
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if m, ok := n.(*mentionNode); ok && entering && !insideLink(m) {
			if key := parley.NickKey(m.nick); !seen[key] {
				seen[key] = true
				out = append(out, m.nick)
			}
		}
		return ast.WalkContinue, nil
	})
	return out
}

// newPolicy allows exactly what chatRenderer and goldmark emit.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "strong", "em", "del", "code", "pre", "ul", "ol", "li", "blockquote", "hr")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+#.-]{1,32}$`)).OnElements("code")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^mention$`)).OnElements("span")
	p.AllowAttrs("data-nick").Matching(regexp.MustCompile(`^[\p{L}\p{N}_.-]{1,32}$`)).OnElements("span")
	return p
}
