package markup

import "testing"

// TestRenderEscapesRawHTML: what a user types as HTML is shown, escaped, as
// they typed it.
func TestRenderEscapesRawHTML(t *testing.T) {
	checkRender(t, []renderCase{
		{"inline HTML", "a <b>b</b>", "<p>a &lt;b&gt;b&lt;/b&gt;</p>"},
		{"script block", "<script>alert(1)</script>", "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"script inline", "x <script>alert(1)</script>", "<p>x &lt;script&gt;alert(1)&lt;/script&gt;</p>"},
		{"img onerror", "<img src=x onerror=alert(1)>", "<p>&lt;img src=x onerror=alert(1)&gt;</p>"},
		{"a with javascript href", `<a href="javascript:alert(1)">x</a>`, "<p>&lt;a href=&#34;javascript:alert(1)&#34;&gt;x&lt;/a&gt;</p>"},
		{"svg onload", "<svg onload=alert(1)>", "<p>&lt;svg onload=alert(1)&gt;</p>"},
		{"iframe", "<iframe src=https://evil>", "<p>&lt;iframe src=https://evil&gt;</p>"},
		{"comment", "<!-- c -->", "<p>&lt;!-- c --&gt;</p>"},
		{"HTML block keeps its lines", "<div>\n*a*\n</div>", "<p>&lt;div&gt;<br>\n*a*<br>\n&lt;/div&gt;</p>"},
		{"inline HTML over two lines", "x <a\nhref=1>", "<p>x &lt;a<br>\nhref=1&gt;</p>"},
		{"entities stay text", "&lt;script&gt;", "<p>&lt;script&gt;</p>"},
	})
}

// TestRenderDropsDangerousLinks: a link to anything but http, https or
// mailto is rendered as its text.
func TestRenderDropsDangerousLinks(t *testing.T) {
	checkRender(t, []renderCase{
		{"javascript", "[x](javascript:alert(1))", "<p>x</p>"},
		{"mixed-case javascript", "[x](JaVaScRiPt:alert(1))", "<p>x</p>"},
		{"entity-encoded javascript", "[x](&#106;avascript:alert(1))", "<p>x</p>"},
		{"hex entity javascript", "[x](&#x6A;avascript:alert(1))", "<p>x</p>"},
		{"named entity colon", "[x](javascript&colon;alert(1))", "<p>x</p>"},
		{"leading spaces", "[x](  javascript:alert(1))", "<p>x</p>"},
		{"angle-bracket destination", "[x](<javascript:alert(1)>)", "<p>x</p>"},
		{"reference to javascript", "[x][r]\n\n[r]: javascript:alert(1)", "<p>x</p>"},
		{"vbscript", "[x](vbscript:msgbox)", "<p>x</p>"},
		{"data", "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)", "<p>x</p>"},
		{"file", "[x](file:///etc/passwd)", "<p>x</p>"},
		{"javascript autolink", "<javascript:alert(1)>", "<p>javascript:alert(1)</p>"},
		{"javascript image", "![x](javascript:alert(1))", "<p>x</p>"},
		{"javascript image without alt", "![](javascript:alert(1))", "<p>javascript:alert(1)</p>"},
		{"attribute injection through a title", `[x](http://a "\" onmouseover=alert(1)")`, `<p><a href="http://a" ` + linkAttrs + `>x</a></p>`},
		{"attribute injection through a title, single quotes", `[x](http://a 'x" onmouseover="alert(1)')`, `<p><a href="http://a" ` + linkAttrs + `>x</a></p>`},
		{"attribute injection through the URL", `[x](https://a.b/"onmouseover="x)`, `<p><a href="https://a.b/%22onmouseover=%22x" ` + linkAttrs + `>x</a></p>`},
	})
}

// TestRenderNeverEmitsActiveContent checks the fuzz invariant on the known
// vectors, including some whose exact output is not specified.
func TestRenderNeverEmitsActiveContent(t *testing.T) {
	r := New()
	for _, in := range xssSeeds {
		got, _ := r.Render(in)
		if problem := unsafeHTML(got); problem != "" {
			t.Errorf("Render(%q) = %q: %s", in, got, problem)
		}
	}
}

var xssSeeds = []string{
	"<script>alert(1)</script>",
	"<img src=x onerror=alert(1)>",
	"[x](javascript:alert(1))",
	"[x](JaVaScRiPt:alert(1))",
	"[x](data:text/html;base64,PHNjcmlwdD4=)",
	`<a href="javascript:alert(1)">x</a>`,
	"<javascript:alert(1)>",
	"[x](&#106;avascript:alert(1))",
	"[x](  javascript:alert(1))",
	"[x](java\tscript:alert(1))",
	"[x](java&#9;script:alert(1))",
	"[x](java&#x0A;script:alert(1))",
	"[x](&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1))",
	`[x](http://a "\" onmouseover=alert(1)")`,
	"![x](javascript:alert(1))",
	"![x](https://a.b/x.png\" onerror=\"alert(1))",
	"<svg onload=alert(1)>",
	"<iframe src=https://evil>",
	"```\n</code></pre><script>alert(1)</script>\n```",
	"`</code><script>alert(1)</script>`",
	"[<img src=x onerror=alert(1)>](https://a.b)",
	"www.a.b/<script>",
	"https://a.b/\"onmouseover=\"alert(1)",
	"<style>*{}</style>",
	"<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
}
