package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley"
)

// Request bodies are structs whose fields carry `json:"name"` and, when
// the field must be given, `api:"required"`: a required string must not
// be empty, a required pointer must be present (its value may be zero:
// {"seconds": 0}, {"role": ""}). The OpenAPI document reads the same tags.

// decode reads r's body as a JSON object into a new value of typ (a struct
// type) and checks its required fields. On failure it returns the status
// to answer with and the error.
func decode(w http.ResponseWriter, r *http.Request, typ reflect.Type) (any, int, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, http.StatusUnsupportedMediaType, parley.Errorf(parley.EInvalid, "the body must be JSON, sent with Content-Type: application/json")
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = parley.Errorf(parley.ETooLarge, "the body is larger than %d bytes", maxBody)
			return nil, http.StatusRequestEntityTooLarge, err
		}
		return nil, http.StatusBadRequest, parley.Errorf(parley.EBadJSON, "could not read the body")
	}
	v := reflect.New(typ)
	if err := unmarshalObject(raw, v.Interface()); err != nil {
		return nil, http.StatusBadRequest, err
	}
	if field := missing(v.Elem()); field != "" {
		return nil, http.StatusBadRequest, parley.Errorf(parley.EMissingField, "missing field: %s", field)
	}
	return v.Interface(), 0, nil
}

// unmarshalObject decodes raw, which must hold one JSON object with no
// field dst does not have, into dst.
func unmarshalObject(raw []byte, dst any) error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return parley.Errorf(parley.EBadJSON, "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return parley.Errorf(parley.EBadJSON, "%s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return parley.Errorf(parley.EBadJSON, "the body must hold one JSON object and nothing after it")
	}
	return nil
}

// jsonProblem says what is wrong with a body for a person: the field, not
// the Go type.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %s: want %s", typeErr.Field, jsonKind(typeErr.Type))
	case errors.As(err, &syntaxErr):
		return fmt.Sprintf("not valid JSON at byte %d", syntaxErr.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "not a valid JSON object"
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	}
	return "a " + t.Kind().String()
}

// missing returns the JSON name of the first required field of v (a
// struct) that is absent or empty, or "".
func missing(v reflect.Value) string {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Tag.Get("api") != "required" {
			continue
		}
		fv := v.Field(i)
		if (fv.Kind() == reflect.Pointer && fv.IsNil()) || (fv.Kind() == reflect.String && strings.TrimSpace(fv.String()) == "") {
			return jsonName(f)
		}
	}
	return ""
}

// jsonName is the name a struct field has in JSON.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "" {
		return f.Name
	}
	return name
}

// duration parses an optional Go duration field ("" is 0).
func duration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, parley.Errorf(parley.EInvalid, "%s %q is not a duration like \"10m\" or \"2h\"", field, s)
	}
	return d, nil
}

// timestamp parses an optional RFC 3339 field ("" is the zero time).
func timestamp(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, parley.Errorf(parley.EInvalid, "%s %q is not an RFC 3339 time like \"2026-11-23T18:00:00Z\"", field, s)
	}
	return t.UTC(), nil
}

// queryInt reads an optional integer query parameter (absent: 0).
func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, parley.Errorf(parley.EInvalid, "query parameter %s=%q is not a whole number", name, s)
	}
	return n, nil
}

// pathInt reads an integer path parameter.
func pathInt(r *http.Request, name string) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, parley.Errorf(parley.EInvalid, "%s %q is not a positive whole number", name, r.PathValue(name))
	}
	return n, nil
}

// writeJSON writes v with status; a nil v writes no body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if v == nil {
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// mustJSON encodes a value built by this package.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
