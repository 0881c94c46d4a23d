// Package web holds the browser page Parley serves at /: our own HTML, CSS
// and JavaScript, embedded in the binary, with no build step and no
// third-party code. admin.html is the moderation page.
package web

import "embed"

// FS holds the page's files.
//
//go:embed index.html app.js client.js i18n.js ui.js style.css favicon.svg admin.html admin.js admin.css
var FS embed.FS
