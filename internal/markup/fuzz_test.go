package markup

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"
)

// allowedTags is every element Render may emit.
var allowedTags = map[string]bool{
	"p": true, "br": true, "strong": true, "em": true, "del": true, "code": true, "pre": true,
	"ul": true, "ol": true, "li": true, "blockquote": true, "hr": true, "a": true, "span": true,
}

// unsafeHTML returns what is wrong with s as chat HTML, or "": a tag
// outside allowedTags, an event handler or style attribute, or an href that
// is not http, https or mailto.
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
				if key == "href" && !safeHref(a.Val) {
					return "href " + a.Val
				}
			}
		}
	}
}

func safeHref(v string) bool {
	v = strings.ToLower(v) // the tokenizer has already decoded entities
	return strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "mailto:")
}

func FuzzRender(f *testing.F) {
	for _, s := range xssSeeds {
		f.Add(s)
	}
	for _, s := range []string{
		"hi **all** @bob", "![a](b)", "```go\ncode\n```", "> q\n- l\n1. o", "# h\n---",
		"@张伟 https://go.dev www.x.org a@b.c", "<!-- c -->", "&#x3C;script&#x3E;", "_@bob_ @a.b. @@x",
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
				t.Fatalf("mention %q is not in the text %q", m, in)
			}
		}
	})
}

// TestRenderConcurrently shares one Renderer between goroutines (run with
// -race).
func TestRenderConcurrently(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				nick := fmt.Sprintf("u%d_%d", i, j)
				html, mentions := r.Render("hi @" + nick + " see https://x.y/" + nick)
				if len(mentions) != 1 || mentions[0] != nick || !strings.Contains(html, `data-nick="`+nick+`"`) {
					t.Errorf("got %q %q for %s", html, mentions, nick)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkRender renders a typical 80-character message with a mention, a
// link and some markup.
func BenchmarkRender(b *testing.B) {
	r := New()
	const msg = "hey @alice, the **build** is green again: see https://ci.example.com/run/42 :)"
	b.ReportAllocs()
	for b.Loop() {
		r.Render(msg)
	}
}
