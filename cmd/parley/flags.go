package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet whose flags may also be set from PARLEY_*
// environment variables and, when it has a config flag, from a TOML file
// (configfile.go). A flag given on the command line wins over the
// environment, which wins over the file, which wins over the default.
type flagSet struct {
	*flag.FlagSet
	env    map[string]string // flag name → environment variable
	config *string           // the config file's flag, if the command takes one
	// shared, if set, names the settings a config file may hold that
	// belong to another command (parley user reads serve's file and takes
	// only its store settings); they are skipped.
	shared func(name string) bool
}

func newFlagSet(name string, out io.Writer, usage string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), env: map[string]string{}}
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usage)
		fmt.Fprintln(out, "\nFlags (each may also be set from the environment variable shown):")
		fs.PrintDefaults()
	}
	return fs
}

func (fs *flagSet) bind(name, env string) string {
	fs.env[name] = env
	return "  [$" + env + "]"
}

func (fs *flagSet) stringVar(p *string, name, env, def, usage string) {
	fs.StringVar(p, name, def, usage+fs.bind(name, env))
}

func (fs *flagSet) intVar(p *int, name, env string, def int, usage string) {
	fs.IntVar(p, name, def, usage+fs.bind(name, env))
}

func (fs *flagSet) floatVar(p *float64, name, env string, def float64, usage string) {
	fs.Float64Var(p, name, def, usage+fs.bind(name, env))
}

func (fs *flagSet) boolVar(p *bool, name, env string, def bool, usage string) {
	fs.BoolVar(p, name, def, usage+fs.bind(name, env))
}

func (fs *flagSet) durationVar(p *time.Duration, name, env string, def time.Duration, usage string) {
	fs.DurationVar(p, name, def, usage+fs.bind(name, env))
}

// configVar adds the flag that names a configuration file.
func (fs *flagSet) configVar(p *string, name, env, usage string) {
	fs.stringVar(p, name, env, "", usage)
	fs.config = p
}

// parse parses args, then sets every flag not given there from its
// environment variable, if set, and the rest from the configuration file,
// if one is named.
func (fs *flagSet) parse(args []string, getenv func(string) string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, env := range fs.env {
		if v := getenv(env); v != "" && !given[name] {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s=%q: %w", env, v, err)
			}
			given[name] = true
		}
	}
	if fs.config == nil || *fs.config == "" {
		return nil
	}
	settings, err := readConfigFile(*fs.config, func(name string) bool {
		return fs.Lookup(name) != nil || fs.shared != nil && fs.shared(name)
	})
	if err != nil {
		return err
	}
	for name, v := range settings {
		if given[name] || fs.Lookup(name) == nil {
			continue
		}
		if err := fs.Set(name, v); err != nil {
			return fmt.Errorf("config file %s, line %d: %s = %q: %w", *fs.config, lineOf(mustRead(*fs.config), name), name, v, err)
		}
	}
	return nil
}

// mustRead returns the file's text, or "" (for error messages only).
func mustRead(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
