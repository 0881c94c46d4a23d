package api_test

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// doc is the parts of the OpenAPI document the tests read.
type doc struct {
	OpenAPI    string                          `json:"openapi"`
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		SecuritySchemes map[string]map[string]any `json:"securitySchemes"`
	} `json:"components"`
}

type operation struct {
	OperationID string                    `json:"operationId"`
	Description string                    `json:"description"`
	Responses   map[string]map[string]any `json:"responses"`
	Parameters  []struct {
		Name, In string
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema struct {
				Required   []string       `json:"required"`
				Properties map[string]any `json:"properties"`
			} `json:"schema"`
			Example map[string]any `json:"example"`
		} `json:"content"`
	} `json:"requestBody"`
}

var methods = []string{"GET", "POST", "PUT", "DELETE"}

func (e *env) openAPI() doc {
	e.t.Helper()
	r := e.do(anon, "GET", "/api/openapi.json", nil).must(e.t, http.StatusOK)
	var d doc
	if err := jsonRemarshal(r.Body, &d); err != nil {
		e.t.Fatal(err)
	}
	return d
}

// fill puts example values in a path's parameters.
func fill(path string) string {
	return strings.NewReplacer("{room}", "lobby", "{seq}", "1", "{id}", "1", "{nickname}", "bob").Replace(path)
}

// The document and the router agree both ways, and each documented
// operation answers, without a credential, a status it documents.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := newEnv(t)
	d := e.openAPI()
	if d.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q; want 3.1.0", d.OpenAPI)
	}
	for _, s := range []string{"bearer", "cookie"} {
		if d.Components.SecuritySchemes[s] == nil {
			t.Errorf("security scheme %s is not documented", s)
		}
	}
	documented := map[string]bool{}
	for path, ops := range d.Paths {
		for m, op := range ops {
			method := strings.ToUpper(m)
			documented[method+" "+path] = true
			req := httptest.NewRequest(method, fill(path), nil)
			if got := e.api.Pattern(req); got != method+" "+path {
				t.Errorf("%s %s is documented but routed to %q", method, path, got)
			}
			for _, p := range op.Parameters {
				if p.In == "path" && !strings.Contains(path, "{"+p.Name+"}") {
					t.Errorf("%s %s documents path parameter %s it does not have", method, path, p.Name)
				}
			}
			r := e.do(anon, method, fill(path), nil)
			if _, ok := op.Responses[strconv.Itoa(r.Status)]; !ok && r.Status < 500 {
				t.Errorf("%s %s without a credential = %d %s; not a documented status (%v)", method, path, r.Status, r.Raw, slices.Sorted(maps.Keys(op.Responses)))
			}
		}
		for _, m := range methods {
			if _, ok := ops[strings.ToLower(m)]; ok {
				continue
			}
			if r := e.do(anon, m, fill(path), nil); r.Status != http.StatusMethodNotAllowed || r.code() != "invalid" || r.Header.Get("Allow") == "" {
				t.Errorf("undocumented %s %s = %d %s (Allow %q); want 405 invalid with Allow", m, path, r.Status, r.Raw, r.Header.Get("Allow"))
			}
		}
	}
	for _, rt := range e.api.Routes() {
		if !documented[rt] {
			t.Errorf("route %s is not in the document", rt)
		}
	}
	if len(documented) != len(e.api.Routes()) {
		t.Errorf("%d operations documented, %d routed", len(documented), len(e.api.Routes()))
	}
	if r := e.do(anon, "GET", "/api/nothing-here", nil); r.Status != http.StatusNotFound || r.code() != "not_found" {
		t.Errorf("GET /api/nothing-here = %d %s; want 404 not_found", r.Status, r.Raw)
	}
}

// Each documented request body: its example is accepted as a body (it may
// fail for other reasons), each required field left out is refused with
// missing_field naming it, an optional one left out is not, an unknown
// field is refused, and a body not sent as JSON is 415.
func TestOpenAPIRequiredFieldsAreEnforced(t *testing.T) {
	e := newEnv(t)
	admin, person := bearer(adminToken), bearer(e.register("tester"))
	for path, ops := range e.openAPI().Paths {
		for m, op := range ops {
			if op.RequestBody == nil {
				continue
			}
			method, url := strings.ToUpper(m), fill(path)
			admin := admin
			if strings.Contains(op.Description, "Who: a login session") {
				admin = person
			}
			body := op.RequestBody.Content["application/json"]
			if body.Example == nil {
				t.Errorf("%s %s: no example body", method, path)
				continue
			}
			if r := e.do(admin, method, url, body.Example); r.code() == "missing_field" || r.code() == "bad_json" || r.Status == 415 {
				t.Errorf("%s %s with the example %v = %d %s", method, path, body.Example, r.Status, r.Raw)
			}
			required := map[string]bool{}
			for _, f := range body.Schema.Required {
				required[f] = true
			}
			for field := range body.Schema.Properties {
				without := maps.Clone(body.Example)
				delete(without, field)
				r := e.do(admin, method, url, without)
				refused := r.Status == 400 && r.code() == "missing_field" && strings.Contains(r.errMsg("message"), field)
				if required[field] != refused {
					t.Errorf("%s %s without %s (required %v) = %d %s", method, path, field, required[field], r.Status, r.Raw)
				}
			}
			extra := maps.Clone(body.Example)
			extra["surprise"] = 1
			if r := e.do(admin, method, url, extra); r.Status != 400 || r.code() != "bad_json" || !strings.Contains(r.errMsg("message"), "surprise") {
				t.Errorf("%s %s with an unknown field = %d %s; want 400 bad_json naming it", method, path, r.Status, r.Raw)
			}
			if r := e.do(admin, method, url, nil, "Content-Type", "text/plain"); r.Status != 415 || r.code() != "invalid" {
				t.Errorf("%s %s as text/plain = %d %s; want 415 invalid", method, path, r.Status, r.Raw)
			}
		}
	}
}
