// Command parley is a self-hosted real-time chat server: one binary serving
// the web page, the WebSocket endpoints and the HTTP API.
//
//	parley [serve] [flags]        run the server (the default)
//	parley announce [flags] TEXT  post a site-wide announcement to a running server
//	parley user add|role|password|list  manage registered users in the store
//	parley bench [flags]          load-test a running server
//	parley config check [flags]   check the configuration and print it
//	parley version                print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `Parley — a self-hosted real-time chat server.

Usage:
  parley [serve] [flags]         run the server (default when no subcommand is given)
  parley announce [flags] TEXT   post (or schedule) a site-wide announcement on a running server
  parley user add [--admin|--moderator] NAME
                                 register a user (password from --password-file, PARLEY_PASSWORD or stdin)
  parley user role NAME admin|moderator|none
                                 give or take a role
  parley user password NAME      set a new password; parley user list: the registered users
  parley bench [flags]           load-test a running server (native or Socket.IO)
  parley config check [flags]    check the configuration (flags, PARLEY_*, --config file) and print it
  parley version                 print the version

Run "parley serve --help", "parley announce --help", "parley user add --help"
or "parley bench --help" for the flags of each. The HTTP API is in docs/API.md.
With no configuration, parley listens on :8080 and keeps its data in ./parley.db.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run dispatches to a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	cmd, rest := "serve", args
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, rest = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout, "\nFlags of serve:")
		NewMain(stdout, getenv).flags().PrintDefaults()
		return 0
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, rest, stderr, getenv)
	case "announce":
		err = announce(ctx, rest, stdout, stderr, getenv)
	case "user":
		err = userCmd(ctx, rest, os.Stdin, stdout, stderr, getenv)
	case "bench":
		err = benchCmd(ctx, rest, stdout, stderr, getenv)
	case "config":
		if len(rest) == 0 || rest[0] != "check" {
			fmt.Fprintf(stderr, "parley: config needs a subcommand: parley config check [--config FILE] [serve flags]\n")
			return 2
		}
		err = configCheck(rest[1:], stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, "parley", version)
	case "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "parley: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintln(stderr, "parley:", err)
		return 1
	}
	return 0
}

// serve runs the server until ctx ends (SIGINT or SIGTERM).
func serve(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) error {
	m := NewMain(stderr, getenv)
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	return m.Close()
}

// configCheck parses and checks the serve configuration from args, the
// environment and the configuration file, and prints the result as a
// configuration file (secrets hidden); an error makes it exit 1.
func configCheck(args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	m := NewMain(stderr, getenv)
	if err := m.ParseFlags(args); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	fmt.Fprintln(stdout, "# parley serve: the configuration is valid; in effect:")
	m.fs.VisitAll(func(f *flag.Flag) {
		if f.Name == "config" {
			return
		}
		v := f.Value.String()
		switch {
		case strings.Contains(f.Name, "token") && v != "":
			v = "(hidden)"
		case strings.Contains(v, "://"):
			v = redact(v)
		}
		fmt.Fprintf(stdout, "%s = %q\n", f.Name, v)
	})
	return nil
}
