package api

import (
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/internal/peer"
)

// The OpenAPI 3.1 document is built from the route table and the request
// and answer types (their json, api and doc tags), so that it describes
// exactly what is served.

// obj is a JSON object of the document.
type obj = map[string]any

// openAPI returns the document of routes.
func openAPI(routes []route) obj {
	paths := obj{}
	for _, rt := range routes {
		p, ok := paths[rt.Path].(obj)
		if !ok {
			p = obj{}
			paths[rt.Path] = p
		}
		p[strings.ToLower(rt.Method)] = operation(rt)
	}
	return obj{
		"openapi": "3.1.0",
		"info": obj{
			"title":   "Parley HTTP API",
			"version": "1",
			"description": "Accounts, rooms, messages, moderation, roles, API keys and announcements of a Parley chat server. " +
				"Errors are {\"error\": {\"code\", \"message\"}} with the codes of docs/PROTOCOL.md; 429 and 503 carry Retry-After. " +
				"Bodies are JSON objects of at most 64 KiB sent with Content-Type: application/json; unknown fields are refused. " +
				"Times are RFC 3339 in UTC; durations are Go durations (\"10m\", \"2h\"). " +
				"A request authenticated by the cookie that changes something (POST, PUT, DELETE) must carry an allowed Origin.",
		},
		"paths": paths,
		"components": obj{
			"securitySchemes": obj{
				"bearer": obj{"type": "http", "scheme": "bearer",
					"description": "An API key (pk_…), the server's --admin-token, or a login session token (the token of register/login)."},
				"cookie": obj{"type": "apiKey", "in": "cookie", "name": peer.CookieName,
					"description": "The login cookie set by register and login (HttpOnly, SameSite=Strict)."},
			},
			"schemas": obj{"Error": obj{
				"type": "object", "required": []string{"error"},
				"properties": obj{"error": obj{
					"type": "object", "required": []string{"code", "message"},
					"properties": obj{
						"code":    obj{"type": "string", "description": "a stable code: bad_json, missing_field, invalid, too_large, rate_limited, unauthorized, forbidden, not_found, nickname_taken, banned, …"},
						"message": obj{"type": "string", "description": "for people"},
					},
				}},
			}},
		},
	}
}

var pathParam = regexp.MustCompile(`\{(\w+)\}`)

// operation documents one route.
func operation(rt route) obj {
	op := obj{
		"operationId": operationID(rt),
		"summary":     rt.Summary,
		"description": strings.TrimSpace(rt.Doc + "\n\nWho: " + rt.Who.String() + "."),
		"tags":        []string{rt.Tag},
		"responses":   responses(rt),
	}
	var params []obj
	for _, m := range pathParam.FindAllStringSubmatch(rt.Path, -1) {
		p := pathParams[m[1]]
		params = append(params, obj{"name": p.Name, "in": "path", "required": true, "description": p.Doc, "schema": obj{"type": p.Type}})
	}
	for _, p := range rt.Query {
		params = append(params, obj{"name": p.Name, "in": "query", "required": false, "description": p.Doc, "schema": obj{"type": p.Type}})
	}
	if params != nil {
		op["parameters"] = params
	}
	if rt.Body != nil {
		op["requestBody"] = obj{"required": true, "content": obj{"application/json": obj{
			"schema": schema(rt.Body, true), "example": rt.Example}}}
	}
	switch rt.Who {
	case public:
		op["security"] = []obj{}
	case optional:
		op["security"] = []obj{{}, {"bearer": []string{}}, {"cookie": []string{}}}
	default:
		op["security"] = []obj{{"bearer": []string{}}, {"cookie": []string{}}}
	}
	return op
}

func operationID(rt route) string {
	id := strings.ToLower(rt.Method)
	for _, seg := range strings.Split(strings.TrimPrefix(rt.Path, "/api/"), "/") {
		seg = strings.Trim(seg, "{}")
		id += "_" + strings.NewReplacer("-", "_", ".", "_").Replace(seg)
	}
	return id
}

// responses documents the answers of rt: its success and the errors it
// can give.
func responses(rt route) obj {
	ok := obj{"description": http.StatusText(rt.Status)}
	if rt.Reply != nil {
		ok["content"] = obj{"application/json": obj{"schema": schema(rt.Reply, false)}}
	}
	out := obj{strconv.Itoa(rt.Status): ok}
	errs := map[int]string{}
	if rt.Body != nil || strings.Contains(rt.Path, "{id}") || strings.Contains(rt.Path, "{seq}") || rt.Query != nil {
		errs[400] = "the body, a parameter or a field is not valid (bad_json, missing_field, invalid)"
	}
	if rt.Body != nil {
		errs[413] = "the body is larger than 64 KiB (too_large)"
		errs[415] = "the body is not sent as application/json"
	}
	if rt.Who >= optional {
		errs[401] = "no credential, or an unknown, revoked or expired one (unauthorized)"
	}
	if rt.Who >= optional || unsafe(rt.Method) {
		errs[403] = "not allowed for this credential, or a cookie request without an allowed Origin (forbidden)"
	}
	if strings.Contains(rt.Path, "{") || rt.Body != nil && rt.Who > session {
		errs[404] = "no such room, message, user or resource (not_found, unknown_user)"
	}
	for _, s := range rt.Errors {
		errs[s] = http.StatusText(s)
	}
	for s, why := range errs {
		out[strconv.Itoa(s)] = obj{"description": why, "content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/Error"}}}}
	}
	out["default"] = obj{"description": "unavailable (503, with Retry-After) or internal (500)",
		"content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/Error"}}}}
	return out
}

var timeType = reflect.TypeFor[time.Time]()

// schema is the JSON Schema of t. For a request body (input), required
// fields are those tagged api:"required" and no other field is allowed;
// for an answer, the fields without omitempty are always present.
func schema(t reflect.Type, input bool) obj {
	if t == timeType {
		return obj{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schema(t.Elem(), input)
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return obj{"type": "integer"}
	case reflect.Slice:
		return obj{"type": "array", "items": schema(t.Elem(), input)}
	case reflect.Map:
		return obj{"type": "object"}
	case reflect.Struct:
	default:
		panic("api: no schema for " + t.String())
	}
	props, required := obj{}, []string{}
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		s := schema(f.Type, input)
		if d := f.Tag.Get("doc"); d != "" {
			s["description"] = d
		}
		props[name] = s
		if input && f.Tag.Get("api") == "required" || !input && !strings.Contains(f.Tag.Get("json"), ",omitempty") {
			required = append(required, name)
		}
	}
	out := obj{"type": "object", "properties": props, "required": required}
	if input {
		out["additionalProperties"] = false
	}
	return out
}
