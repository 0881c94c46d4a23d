package markup

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestMentions(t *testing.T) {
	r := New()
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"a mention", "hi @bob", []string{"bob"}},
		{"at the start", "@bob hi", []string{"bob"}},
		{"after a line break", "hi\n@bob", []string{"bob"}},
		{"in parentheses", "(@bob)", []string{"bob"}},
		{"one per person, as first typed", "@Bob and @bob", []string{"Bob"}},
		{"in order of appearance", "@carol, @alice and @bob!", []string{"carol", "alice", "bob"}},
		{"CJK nickname", "@张伟 你好", []string{"张伟"}},
		{"after a CJK character is no word start", "张@伟", nil},
		{"an e-mail address is not a mention", "mail bob@example.com", nil},
		{"nor is a word@word", "x@y", nil},
		{"nor after an underscore", "a_@bob", nil},
		{"so _@bob_ is italic, not a mention (use *@bob*)", "_@bob_", nil},
		{"nor a double @", "@@bob", nil},
		{"a lone @", "@ bob", nil},
		{"not in inline code", "`@bob`", nil},
		{"not in a code block", "```\n@bob\n```", nil},
		{"not in indented code", "    @bob", nil},
		{"not in link text", "[see @bob](https://x.y)", nil},
		{"not in image alt", "![@bob](https://x.y)", nil},
		{"not in a URL", "https://x.y/@bob", nil},
		{"not in a www URL", "www.x.y/@bob", nil},
		{"not in an HTML block", "<div>\n@bob\n</div>", nil},
		{"in inline HTML's text", "<b>@bob</b>", []string{"bob"}},
		{"a sentence's final dot is not part of it", "hi @bob.", []string{"bob"}},
		{"nor its dots", "hi @bob...", []string{"bob"}},
		{"nor a dash", "@bob- see", []string{"bob"}},
		{"inner dots are", "@a.b.c", []string{"a.b.c"}},
		{"digits, underscore and dash", "@r2_d-2", []string{"r2_d-2"}},
		{"apostrophe ends it", "@bob's", []string{"bob"}},
		{"punctuation ends it", "@bob, @carol:", []string{"bob", "carol"}},
		{"32 characters", "@" + strings.Repeat("x", 32), []string{strings.Repeat("x", 32)}},
		{"32 characters and a full stop", "@" + strings.Repeat("x", 32) + ".", []string{strings.Repeat("x", 32)}},
		{"33 characters is no mention, not a cut one", "@" + strings.Repeat("x", 33), nil},
		{"33 CJK characters", "@" + strings.Repeat("张", 33), nil},
		{"inside bold", "**@bob**", []string{"bob"}},
		{"inside italic", "*@bob*", []string{"bob"}},
		{"inside a heading", "# @bob", []string{"bob"}},
		{"inside a list and a quote", "- @bob\n> @carol", []string{"bob", "carol"}},
		{"none", "hello", nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, got := r.Render(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("mentions of %q = %q; want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRenderMentions(t *testing.T) {
	checkRender(t, []renderCase{
		{"a mention", "hi @bob", `<p>hi <span class="mention" data-nick="bob">@bob</span></p>`},
		{"data-nick is the key, the text as typed", "@Bob", `<p><span class="mention" data-nick="bob">@Bob</span></p>`},
		{"CJK", "@张伟 你好", `<p><span class="mention" data-nick="张伟">@张伟</span> 你好</p>`},
		{"final dot stays outside", "hi @bob.", `<p>hi <span class="mention" data-nick="bob">@bob</span>.</p>`},
		{"inside bold", "**@bob**", `<p><strong><span class="mention" data-nick="bob">@bob</span></strong></p>`},
		{"in link text it is plain", "[hi @bob](https://x.y)", `<p><a href="https://x.y" ` + linkAttrs + `>hi @bob</a></p>`},
		{"in code it is code", "`@bob`", "<p><code>@bob</code></p>"},
		{"e-mail address is a mailto link", "bob@example.com", `<p><a href="mailto:bob@example.com" ` + linkAttrs + `>bob@example.com</a></p>`},
	})
}

// TestManyMentions crosses the point where deduplication switches from a
// list to a map.
func TestManyMentions(t *testing.T) {
	var text strings.Builder
	var want []string
	for i := range 40 {
		nick := fmt.Sprintf("U%d", i)
		want = append(want, nick)
		text.WriteString("@" + nick + " @" + strings.ToLower(nick) + " ")
	}
	text.WriteString("@u0 @u39")
	if _, got := New().Render(text.String()); !reflect.DeepEqual(got, want) {
		t.Errorf("mentions = %q\nwant %q", got, want)
	}
}
