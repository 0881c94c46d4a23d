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

// mentionNode is an @mention: nick as typed, key its parley.NickKey.
type mentionNode struct {
	ast.BaseInline
	nick, key string
}

// Kind implements ast.Node.
func (n *mentionNode) Kind() ast.NodeKind { return kindMention }

// Dump implements ast.Node.
func (n *mentionNode) Dump(src []byte, level int) {
	ast.DumpHelper(n, src, level, map[string]string{"Nick": n.nick}, nil)
}

// mentionParser parses "@nick". Code, HTML blocks, autolinks and what
// linkify finds (URLs, e-mail addresses) are taken whole before their
// content is looked at, so an "@" inside them never reaches this parser; an
// "@" in a link's text does, and is dealt with by insideLink when collecting
// and rendering.
//
// The rules:
//   - "@" starts a mention only at the start of a word: not after a letter,
//     a digit, "_" or another "@" ("bob@example.com", "@@bob"). So
//     "_@bob_" is italic text, not a mention; "*@bob*" is both.
//   - The nickname is the longest run of nickname characters (letters of
//     any script, digits, "_-.") after the "@", less any "." or "-" it ends
//     with: "thanks @bob." mentions bob.
//   - It must be a valid nickname (parley.ValidNickname): 1–32 characters.
//     A longer run is not a mention at all rather than a cut-off one.
type mentionParser struct{}

// Trigger implements parser.InlineParser.
func (mentionParser) Trigger() []byte { return []byte{'@'} }

// Parse implements parser.InlineParser.
func (mentionParser) Parse(parent ast.Node, block text.Reader, pc parser.Context) ast.Node {
	if prev := block.PrecendingCharacter(); wordRune(prev) || prev == '@' {
		return nil
	}
	line, _ := block.PeekLine()
	if len(line) == 0 || line[0] != '@' {
		return nil
	}
	end := 1
	for end < len(line) {
		r, size := utf8.DecodeRune(line[end:])
		if !nickRune(r) {
			break
		}
		end += size
	}
	for end > 1 && (line[end-1] == '.' || line[end-1] == '-') {
		end--
	}
	name := line[1:end]
	if len(name) == 0 || utf8.RuneCount(name) > parley.MaxNicknameLen {
		return nil
	}
	nick := string(name)
	if !parley.ValidNickname(nick) { // cannot fail; a guard for the alphabet
		return nil
	}
	block.Advance(end)
	return &mentionNode{nick: nick, key: parley.NickKey(nick)}
}

// wordRune reports whether r, just before an "@", makes it part of a word.
func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_'
}

// nickRune reports whether r may be part of a nickname (see
// parley.ValidNickname).
func nickRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.'
}
