// Package markup renders chat messages: markdown → HTML that is safe to
// insert into a page, and the @mentions they contain.
//
// Rendering is done once per message, on the server, by goldmark
// (CommonMark with linkify, strikethrough and hard line breaks: a single
// newline is a <br>). Chat differs from a document in a few ways:
//
//   - Raw HTML typed by a user is shown escaped, as the text they typed,
//     never interpreted and never silently dropped.
//   - Links keep their <a> only if they are absolute http, https or mailto
//     URLs; any other link (javascript:, data:, relative, …) is rendered as
//     its text alone. Every <a> opens in a new tab with
//     rel="noopener noreferrer nofollow"; link titles are dropped.
//   - Images are never loaded: ![alt](url) is a link whose text is the alt
//     text, or the URL when the alt text is empty.
//   - Headings are not giant: "# x" is a paragraph in bold,
//     <p><strong>x</strong></p>. A thematic break ("---") stays an <hr>.
//   - "@Bob" is a mention when it starts a word (not after a letter, a
//     digit, "_" or "@", so "bob@example.com" is none) outside code, links
//     and HTML. The nickname is the run of nickname characters after the
//     "@" (parley.ValidNickname) less a final "." or "-": "hi @Bob."
//     mentions Bob. A run longer than 32 characters is no mention. It is
//     marked up as <span class="mention" data-nick="bob">@Bob</span>,
//     data-nick being parley.NickKey of the nickname.
//
// bluemonday then checks the output against the exact set of elements and
// attributes this package emits, as a second wall.
package markup

import (
	"bufio"
	"bytes"
	"slices"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	"github.com/yuin/goldmark/renderer/html"
	gmtext "github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Renderer renders chat messages. It is built once by New and is safe for
// concurrent use.
type Renderer struct {
	md      goldmark.Markdown
	policy  *bluemonday.Policy
	scratch sync.Pool // of *scratch
}

// scratch is the memory one Render call writes into, reused across calls.
type scratch struct {
	raw   bytes.Buffer  // goldmark's output
	w     *bufio.Writer // buffers writes to raw
	clean bytes.Buffer  // bluemonday's output
}

// maxScratch is the largest buffer kept for reuse; a rare huge message
// should not pin its memory in the pool.
const maxScratch = 64 << 10

// New returns a Renderer. Building one compiles the markdown parser and the
// sanitizer policy, so build it once and share it.
func New() *Renderer {
	md := goldmark.New(
		goldmark.WithExtensions(extension.Linkify, extension.Strikethrough),
		goldmark.WithParserOptions(
			parser.WithInlineParsers(util.Prioritized(mentionParser{}, 600)),
		),
		goldmark.WithRendererOptions(
			html.WithHardWraps(),
			renderer.WithNodeRenderers(util.Prioritized(chatRenderer{}, 100)),
		),
	)
	r := &Renderer{md: md, policy: newPolicy()}
	r.scratch.New = func() any {
		s := new(scratch)
		s.w = bufio.NewWriter(&s.raw)
		return s
	}
	return r
}

// Render renders text once. The returned html is safe to insert into a
// page. mentions are the nicknames mentioned with @, as typed, deduplicated
// by parley.NickKey, in order of first appearance; mentions inside code or
// links do not count. Render("") returns "" and no mentions.
func (r *Renderer) Render(text string) (html string, mentions []string) {
	if text == "" {
		return "", nil
	}
	if plain(text) {
		return "<p>" + text + "</p>", nil
	}
	return r.renderFull(text)
}

// renderFull renders text through goldmark and the sanitizer.
func (r *Renderer) renderFull(text string) (html string, mentions []string) {
	src := []byte(text)
	doc := r.md.Parser().Parse(gmtext.NewReader(src))
	mentions = collectMentions(doc)

	s := r.scratch.Get().(*scratch)
	defer r.putScratch(s)
	s.raw.Reset()
	s.clean.Reset()
	s.w.Reset(&s.raw)
	// Both steps write to memory and fail only on a bug: then show the
	// text, escaped, rather than nothing.
	if err := r.md.Renderer().Render(s.w, src, doc); err != nil {
		return "<p>" + string(util.EscapeHTML(src)) + "</p>", mentions
	}
	if err := r.policy.SanitizeReaderToWriter(&s.raw, &s.clean); err != nil {
		return "<p>" + string(util.EscapeHTML(src)) + "</p>", mentions
	}
	return string(bytes.TrimSpace(s.clean.Bytes())), mentions
}

func (r *Renderer) putScratch(s *scratch) {
	if s.raw.Cap() <= maxScratch && s.clean.Cap() <= maxScratch {
		r.scratch.Put(s)
	}
}

// collectMentions returns the nicknames of doc's mention nodes that are not
// part of a link, each once by NickKey, in document order.
func collectMentions(doc ast.Node) []string {
	var m mentionSet
	m.collect(doc)
	return m.nicks
}

// mentionSet accumulates mentions. A message has few, so keys is searched
// linearly; seen takes over should a message have many.
type mentionSet struct {
	nicks, keys []string
	seen        map[string]bool
}

func (s *mentionSet) collect(n ast.Node) {
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		if m, ok := c.(*mentionNode); ok {
			if !insideLink(m) {
				s.add(m)
			}
			continue
		}
		s.collect(c)
	}
}

func (s *mentionSet) add(m *mentionNode) {
	const linear = 16
	switch {
	case s.seen != nil:
		if s.seen[m.key] {
			return
		}
		s.seen[m.key] = true
	case slices.Contains(s.keys, m.key):
		return
	case len(s.keys) == linear:
		s.seen = make(map[string]bool, 2*linear)
		for _, k := range s.keys {
			s.seen[k] = true
		}
		s.seen[m.key] = true
	default:
		s.keys = append(s.keys, m.key)
	}
	s.nicks = append(s.nicks, m.nick)
}
