package main

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// A configuration file is TOML with one key per flag, named as the flag
// (`addr = ":8080"`, `max-message-chars = 2000`, `fanout-window = "50ms"`,
// `allowed-origins = ["https://a.example", "https://b.example"]`). Its
// values sit between the environment and the defaults: a flag on the
// command line wins over PARLEY_* variables, which win over the file,
// which wins over the defaults.

// readConfigFile returns the settings of the TOML file at path as flag
// values (strings, as a command line would give them). A key that is not
// a flag, a section, or a value of another kind is an error naming the
// key and its line.
func readConfigFile(path string, known func(name string) bool) (map[string]string, error) {
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if _, err := toml.Decode(string(body), &raw); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(raw))
	for _, key := range keys {
		where := fmt.Sprintf("config file %s, line %d", path, lineOf(string(body), key))
		if _, section := raw[key].(map[string]any); section {
			return nil, fmt.Errorf("%s: %s: sections are not used: write the settings at the top level", where, key)
		}
		if !known(key) || key == "config" {
			return nil, fmt.Errorf("%s: unknown setting %q (settings are named as the flags of parley serve --help)", where, key)
		}
		v, err := flagValue(raw[key])
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", where, key, err)
		}
		out[key] = v
	}
	return out, nil
}

// flagValue turns a TOML value into the text a flag takes.
func flagValue(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case bool:
		return strconv.FormatBool(v), nil
	case []any: // a list: comma-separated, as allowed-origins takes it
		items := make([]string, len(v))
		for i, item := range v {
			s, ok := item.(string)
			if !ok {
				return "", fmt.Errorf("a list holds strings only, not %T", item)
			}
			items[i] = s
		}
		return strings.Join(items, ","), nil
	}
	return "", fmt.Errorf("a value of type %T is not a setting", v)
}

// lineOf returns the line where key is set (or its section begins), or 0.
func lineOf(body, key string) int {
	k := regexp.QuoteMeta(key)
	re := regexp.MustCompile(`^\s*(("` + k + `"|'` + k + `'|` + k + `)\s*=|\[\s*` + k + `\s*\])`)
	for i, line := range strings.Split(body, "\n") {
		if re.MatchString(line) {
			return i + 1
		}
	}
	return 0
}
