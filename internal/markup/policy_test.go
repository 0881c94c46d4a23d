package markup

import "testing"

// TestPolicyIsASecondWall feeds HTML the renderers would never emit straight
// to the sanitizer: it must stand on its own.
func TestPolicyIsASecondWall(t *testing.T) {
	p := newPolicy()
	for _, tc := range []struct{ name, in, want string }{
		{"what we emit passes unchanged",
			`<p><a href="https://a.b" target="_blank" rel="noopener noreferrer nofollow">x</a> <span class="mention" data-nick="bob">@Bob</span></p>`,
			`<p><a href="https://a.b" target="_blank" rel="noopener noreferrer nofollow">x</a> <span class="mention" data-nick="bob">@Bob</span></p>`},
		{"script", `<script>alert(1)</script>x`, "x"},
		{"img", `<img src=x onerror=alert(1)>x`, "x"},
		{"event handler", `<p onclick="alert(1)">x</p>`, "<p>x</p>"},
		{"style", `<p style="color:red">x</p>`, "<p>x</p>"},
		{"javascript href", `<a href="javascript:alert(1)">x</a>`, "x"},
		{"relative href", `<a href="/admin">x</a>`, "x"},
		{"bare link gets target and rel", `<a href="https://a.b">x</a>`, `<a href="https://a.b" rel="nofollow noreferrer noopener" target="_blank">x</a>`},
		{"other rel and target are replaced", `<a href="https://a.b" rel="opener" target="x">x</a>`, `<a href="https://a.b" rel="nofollow noreferrer noopener" target="_blank">x</a>`},
		{"other span class", `<span class="evil" data-nick="bob">x</span>`, `<span data-nick="bob">x</span>`},
		{"bad data-nick", `<span class="mention" data-nick="&quot;&gt;">x</span>`, `<span class="mention">x</span>`},
		{"other code class", `<code class="x y">c</code>`, "<code>c</code>"},
		{"heading", `<h1>x</h1>`, "x"},
		{"table", `<table><tr><td>x</td></tr></table>`, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Sanitize(tc.in); got != tc.want {
				t.Errorf("Sanitize(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestUnsafeHTML checks the fuzz test's own judge.
func TestUnsafeHTML(t *testing.T) {
	for _, bad := range []string{
		"<script>x</script>", "<img src=x>", `<p onclick="x">`, `<a href="javascript:x">`,
		`<a href="JAVASCRIPT:x">`, `<a href="&#106;avascript:x">`, `<a href="/x">`, `<p style="x">`, "<h1>x</h1>",
	} {
		if unsafeHTML(bad) == "" {
			t.Errorf("unsafeHTML(%q) found nothing wrong", bad)
		}
	}
	for _, good := range []string{
		"", "<p>x</p>", `<a href="HTTPS://x" target="_blank">x</a>`, `<a href="mailto:a@b.c">`,
		`<span class="mention" data-nick="bob">@bob</span>`, `<pre><code class="language-go">x</code></pre>`,
	} {
		if problem := unsafeHTML(good); problem != "" {
			t.Errorf("unsafeHTML(%q) = %s", good, problem)
		}
	}
}
