package markup

import (
	"regexp"

	"github.com/microcosm-cc/bluemonday"
)

// relValue is the rel attribute of every link this package emits.
const relValue = "noopener noreferrer nofollow"

// newPolicy returns the second wall: a bluemonday policy that allows exactly
// the elements and attributes goldmark and chatRenderer emit, and nothing
// else. If the first wall (the renderers) ever lets something through, this
// strips it.
func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "strong", "em", "del", "code", "pre",
		"ul", "ol", "li", "blockquote", "hr")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+#.-]{1,32}$`)).OnElements("code")

	// Links: absolute http, https and mailto only, always in a new tab
	// and without referrer or opener.
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.AllowAttrs("target").Matching(regexp.MustCompile(`^_blank$`)).OnElements("a")
	p.AllowAttrs("rel").Matching(regexp.MustCompile(`^` + relValue + `$`)).OnElements("a")
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)

	// Mentions. data-nick is a NickKey: the nickname alphabet, lower case.
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^mention$`)).OnElements("span")
	p.AllowAttrs("data-nick").Matching(regexp.MustCompile(`^[\p{L}\p{N}_.-]{1,32}$`)).OnElements("span")
	return p
}
