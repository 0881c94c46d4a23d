package markup

import (
	"unicode"
	"unicode/utf8"

	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"

	"github.com/parley-chat/parley"
)

// kindMention is the AST kind of an @mention.
var kindMention = ast.NewNodeKind("Mention")

type mentionNode struct {
	ast.BaseInline
	nick string
}

// Kind implements ast.Node.
func (n *mentionNode) Kind() ast.NodeKind { return kindMention }

// Dump implements ast.Node.
func (n *mentionNode) Dump(src []byte, level int) {
	ast.DumpHelper(n, src, level, map[string]string{"Nick": n.nick}, nil)
}

// mentionParser parses "@nick" at the start of a word. Code spans are
// parsed before it, so a mention in code stays code.
type mentionParser struct{}

// Trigger implements parser.InlineParser.
func (mentionParser) Trigger() []byte { return []byte{'@'} }

// Parse implements parser.InlineParser.
func (mentionParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	if prev := block.PrecendingCharacter(); nickRune(prev) || prev == '@' {
		return nil // "bob@example.com" or "@@x" is no mention
	}
	line, _ := block.PeekLine()
	end, runes := 1, 0
	for end < len(line) {
		r, size := utf8.DecodeRune(line[end:])
		if !nickRune(r) {
			break
		}
		end += size
		runes++
	}
	// A sentence may end right after a name: "thanks @bob." mentions bob.
	for end > 1 && (line[end-1] == '.' || line[end-1] == '-') {
		end--
		runes--
	}
	nick := string(line[1:end])
	if runes == 0 || !parley.ValidNickname(nick) {
		return nil
	}
	block.Advance(end)
	return &mentionNode{nick: nick}
}

func nickRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.'
}

// insideLink reports whether n is part of a link's text.
func insideLink(n ast.Node) bool {
	for p := n.Parent(); p != nil; p = p.Parent() {
		if k := p.Kind(); k == ast.KindLink || k == ast.KindAutoLink {
			return true
		}
	}
	return false
}
