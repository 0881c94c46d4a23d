package markup

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func TestRender(t *testing.T) {
	r := New()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"bold", "hi **all**", "<p>hi <strong>all</strong></p>"},
		{"italic", "*a* _b_", "<p><em>a</em> <em>b</em></p>"},
		{"strike", "~~x~~", "<p><del>x</del></p>"},
		{"inline code", "run `go test`", "<p>run <code>go test</code></p>"},
		{"code block escapes", "```go\nx := <b>\n```", "<pre><code class=\"language-go\">x := &lt;b&gt;\n</code></pre>"},
		{"list", "- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"},
		{"ordered list", "3. c\n4. d", "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>"},
		{"quote", "> q", "<blockquote>\n<p>q</p>\n</blockquote>"},
		{"newline is a line break", "a\nb", "<p>a<br>\nb</p>"},
		{"heading is bold", "# big", "<p><strong>big</strong></p>"},
		{"link", "[go](https://go.dev)", `<p><a href="https://go.dev" rel="nofollow noreferrer noopener" target="_blank">go</a></p>`},
		{"bare URL", "see https://go.dev", `<p>see <a href="https://go.dev" rel="nofollow noreferrer noopener" target="_blank">https://go.dev</a></p>`},
		{"image is a link", "![cat](https://x/cat.png)", `<p><a href="https://x/cat.png" rel="nofollow noreferrer noopener" target="_blank">cat</a></p>`},
		{"raw inline HTML is escaped", "a <b>b</b>", "<p>a &lt;b&gt;b&lt;/b&gt;</p>"},
		{"HTML block is escaped", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"img onerror is escaped", "<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"},
		{"javascript link dropped", "[x](javascript:alert(1))", "<p>x</p>"},
		{"mixed case scheme dropped", "[x](JaVaScRiPt:alert(1))", "<p>x</p>"},
		{"data link dropped", "[x](data:text/html;base64,PHNjcmlwdD4=)", "<p>x</p>"},
		{"vbscript link dropped", "[x](vbscript:msgbox)", "<p>x</p>"},
		{"relative link dropped", "[x](/admin)", "<p>x</p>"},
		{"mention", "hi @bob", `<p>hi <span class="mention" data-nick="bob">@bob</span></p>`},
		{"mention keeps case, key is lower", "@Bob", `<p><span class="mention" data-nick="bob">@Bob</span></p>`},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := r.Render(tc.in)
			if got != tc.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRenderNeverEmitsActiveContent(t *testing.T) {
	r := New()
	for _, in := range []string{
		"<script>alert(1)</script>",
		"x <script>alert(1)</script>",
		"<img src=x onerror=alert(1)>",
		"[x](javascript:alert(1))",
		"[x](  javascript:alert(1))",
		"[x](&#106;avascript:alert(1))",
		"[x](java\tscript:alert(1))",
		"<javascript:alert(1)>",
		"<a href=\"javascript:alert(1)\">x</a>",
		"[x](http://a \"\\\" onmouseover=alert(1)\")",
		"[x](http://a 'x\" onmouseover=\"alert(1)')",
		"![x](javascript:alert(1))",
		"<svg onload=alert(1)>",
		"<iframe src=https://evil>",
		"[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
	} {
		got, _ := r.Render(in)
		if problem := unsafeHTML(got); problem != "" {
			t.Errorf("Render(%q) = %q: %s", in, got, problem)
		}
	}
}

func TestMentions(t *testing.T) {
	r := New()
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"hi @bob", []string{"bob"}},
		{"@Bob and @bob", []string{"Bob"}},
		{"@张伟 你好", []string{"张伟"}},
		{"mail bob@example.com", nil},
		{"`@bob` in code", nil},
		{"```\n@bob\n```", nil},
		{"hi @bob.", []string{"bob"}},
		{"@a.b.c", []string{"a.b.c"}},
		{"@" + strings.Repeat("x", 33), nil},
		{"**@bob**", []string{"bob"}},
		{"[see @bob](https://x)", nil},
		{"@alice, @bob and @carol!", []string{"alice", "bob", "carol"}},
		{"@@bob", nil},
		{"@", nil},
	} {
		_, got := r.Render(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("mentions of %q = %q; want %q", tc.in, got, tc.want)
		}
	}
}

var allowedTags = map[string]bool{
	"p": true, "br": true, "strong": true, "em": true, "del": true, "code": true, "pre": true,
	"ul": true, "ol": true, "li": true, "blockquote": true, "hr": true, "a": true, "span": true,
}

// unsafeHTML returns what is wrong with s as chat HTML, or "".
func unsafeHTML(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken, html.EndTagToken:
			tok := z.Token()
			if !allowedTags[tok.Data] {
				return "tag " + tok.Data
			}
			for _, a := range tok.Attr {
				key := strings.ToLower(a.Key)
				if strings.HasPrefix(key, "on") || key == "style" || key == "src" {
					return "attribute " + a.Key
				}
				if key == "href" {
					v := strings.ToLower(strings.TrimSpace(a.Val))
					if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "mailto:") {
						return "href " + a.Val
					}
				}
			}
		}
	}
}

func FuzzRender(f *testing.F) {
	for _, s := range []string{
		"hi **all** @bob", "<script>x</script>", "[x](javascript:y)", "![a](b)", "```\ncode\n```",
		"> q\n- l\n1. o", "<a href=x>", "@张伟 https://go.dev www.x.org a@b.c", "<!-- c -->", "&#x3C;script&#x3E;",
	} {
		f.Add(s)
	}
	r := New()
	f.Fuzz(func(t *testing.T, in string) {
		got, mentions := r.Render(in)
		if problem := unsafeHTML(got); problem != "" {
			t.Fatalf("Render(%q) = %q: %s", in, got, problem)
		}
		for _, m := range mentions {
			if !strings.Contains(in, "@"+m) {
				t.Fatalf("mention %q not in the text %q", m, in)
			}
		}
	})
}

func BenchmarkRender(b *testing.B) {
	r := New()
	const msg = "hey @alice, the **build** is green again: see https://ci.example.com/run/42 :)"
	b.ReportAllocs()
	for b.Loop() {
		r.Render(msg)
	}
}
