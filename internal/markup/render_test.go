package markup

import "testing"

// link is what every allowed link opens with, minus the href.
const linkAttrs = `target="_blank" rel="noopener noreferrer nofollow"`

// renderCase is one line of the specification: markdown in, exact HTML out.
type renderCase struct{ name, in, want string }

func checkRender(t *testing.T, cases []renderCase) {
	t.Helper()
	r := New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := r.Render(tc.in)
			if got != tc.want {
				t.Errorf("Render(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRenderFormatting(t *testing.T) {
	checkRender(t, []renderCase{
		{"plain text is a paragraph", "hello", "<p>hello</p>"},
		{"empty text renders nothing", "", ""},
		{"special characters are escaped", `a & b < c "q"`, "<p>a &amp; b &lt; c &#34;q&#34;</p>"},
		{"bold", "hi **all**", "<p>hi <strong>all</strong></p>"},
		{"bold with underscores", "__all__", "<p><strong>all</strong></p>"},
		{"italic", "*a* _b_", "<p><em>a</em> <em>b</em></p>"},
		{"strikethrough", "~~x~~", "<p><del>x</del></p>"},
		{"inline code is escaped", "run `<b>go</b>`", "<p>run <code>&lt;b&gt;go&lt;/b&gt;</code></p>"},
		{"fenced code with language", "```go\nx := <b>\n```", `<pre><code class="language-go">x := &lt;b&gt;` + "\n</code></pre>"},
		{"fenced code without language", "```\n**x**\n```", "<pre><code>**x**\n</code></pre>"},
		{"odd language is dropped", "```\"><script>\nx\n```", "<pre><code>x\n</code></pre>"},
		{"indented code", "    a <x>\n    b", "<pre><code>a &lt;x&gt;\nb\n</code></pre>"},
		{"unordered list", "- a\n- b", "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"},
		{"ordered list keeps its start", "3. c\n4. d", "<ol start=\"3\">\n<li>c</li>\n<li>d</li>\n</ol>"},
		{"block quote", "> q", "<blockquote>\n<p>q</p>\n</blockquote>"},
		{"a single newline is a line break", "a\nb", "<p>a<br>\nb</p>"},
		{"CRLF too", "a\r\nb", "<p>a<br>\nb</p>"},
		{"a blank line is a new paragraph", "a\n\nb", "<p>a</p>\n<p>b</p>"},
		{"heading is a bold paragraph", "# big", "<p><strong>big</strong></p>"},
		{"setext heading too", "big\n===", "<p><strong>big</strong></p>"},
		{"heading keeps inline markup", "## *x*", "<p><strong><em>x</em></strong></p>"},
		{"thematic break", "---", "<hr>"},
	})
}

func TestRenderLinks(t *testing.T) {
	checkRender(t, []renderCase{
		{"link", "[go](https://go.dev)", `<p><a href="https://go.dev" ` + linkAttrs + `>go</a></p>`},
		{"http link", "[x](http://a.b/c?d=1&e=2)", `<p><a href="http://a.b/c?d=1&amp;e=2" ` + linkAttrs + `>x</a></p>`},
		{"upper-case scheme", "[x](HTTPS://GO.DEV)", `<p><a href="https://GO.DEV" ` + linkAttrs + `>x</a></p>`},
		{"mailto link", "[x](mailto:bob@example.com)", `<p><a href="mailto:bob@example.com" ` + linkAttrs + `>x</a></p>`},
		{"title is dropped", `[x](https://a.b "T")`, `<p><a href="https://a.b" ` + linkAttrs + `>x</a></p>`},
		{"reference link", "[x][r]\n\n[r]: https://a.b", `<p><a href="https://a.b" ` + linkAttrs + `>x</a></p>`},
		{"bare URL", "see https://go.dev", `<p>see <a href="https://go.dev" ` + linkAttrs + `>https://go.dev</a></p>`},
		{"bare www", "see www.go.dev.", `<p>see <a href="http://www.go.dev" ` + linkAttrs + `>www.go.dev</a>.</p>`},
		{"bare e-mail address", "mail bob@example.com", `<p>mail <a href="mailto:bob@example.com" ` + linkAttrs + `>bob@example.com</a></p>`},
		{"autolink", "<https://go.dev/a?b=1&c=2>", `<p><a href="https://go.dev/a?b=1&amp;c=2" ` + linkAttrs + `>https://go.dev/a?b=1&amp;c=2</a></p>`},
		{"e-mail autolink", "<bob@example.com>", `<p><a href="mailto:bob@example.com" ` + linkAttrs + `>bob@example.com</a></p>`},
		{"quote in URL is escaped", `[x](https://a.b/"x)`, `<p><a href="https://a.b/%22x" ` + linkAttrs + `>x</a></p>`},
		{"relative link is text", "[x](/admin)", "<p>x</p>"},
		{"fragment link is text", "[x](#top)", "<p>x</p>"},
		{"scheme-relative link is text", "[x](//evil.com)", "<p>x</p>"},
		{"ftp link is text", "[x](ftp://a.b)", "<p>x</p>"},
		{"http without host is text", "[x](http:foo)", "<p>x</p>"},
		{"image is a link to it", "![cat](https://x/cat.png)", `<p><a href="https://x/cat.png" ` + linkAttrs + `>cat</a></p>`},
		{"image without alt shows its URL", "![](https://x/cat.png)", `<p><a href="https://x/cat.png" ` + linkAttrs + `>https://x/cat.png</a></p>`},
		{"image in a link is not a second link", "[![a](https://i.j)](https://l.m)", `<p><a href="https://l.m" ` + linkAttrs + `>a</a></p>`},
		{"URL in link text is not a second link", "[see https://x.y](https://z.w)", `<p><a href="https://z.w" ` + linkAttrs + `>see https://x.y</a></p>`},
	})
}
