package api

import "net/http"

// Routes returns "METHOD /path" of every route the handler registers.
func (h *Handler) Routes() []string {
	var out []string
	for _, rt := range h.routes() {
		out = append(out, rt.Method+" "+rt.Path)
	}
	return out
}

// Pattern returns the route pattern r matches, "" if none.
func (h *Handler) Pattern(r *http.Request) string {
	_, p := h.mux.Handler(r)
	return p
}
