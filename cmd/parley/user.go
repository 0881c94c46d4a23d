package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/password"
)

const userUsage = `Usage:
  parley user add [--admin|--moderator] [--password-file FILE] NAME
  parley user role NAME admin|moderator|none
  parley user password [--password-file FILE] NAME
  parley user list [--all]

Manages registered users directly in the server's store (the same --db or
--store as parley serve, and the same --config file). "add" registers NAME
with a password and an optional role; "role" gives or takes a role;
"password" sets a new password and ends every login of NAME; "list" shows the
registered users (--all: guests too). The password comes from
--password-file (its first line), else PARLEY_PASSWORD, else the first line
of standard input (typed without echo on a terminal). Acts are written to the action log as "operator".
A running server sees the change at the user's next login or request.
`

// Password rules, as the server applies them (node.Register).
const (
	minPasswordChars = 8
	maxPasswordChars = 256
)

// userCmd runs "parley user …".
func userCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fmt.Fprint(stderr, userUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return nil
		}
		return errors.New("user: want add, role, password or list")
	}
	sub, args := args[0], args[1:]
	var c ServeConfig
	var makeAdmin, makeMod, all bool
	var pwFile string
	fs := newFlagSet("parley user "+sub, stderr, userUsage)
	fs.configVar(&c.Config, "config", "PARLEY_CONFIG", "TOML file of parley serve's settings; only the store settings are used")
	fs.shared = func(name string) bool { return NewMain(io.Discard, getenv).flags().Lookup(name) != nil }
	storeFlags(fs, &c)
	switch sub {
	case "add":
		fs.BoolVar(&makeAdmin, "admin", false, "make the user an admin")
		fs.BoolVar(&makeMod, "moderator", false, "make the user a moderator")
		fallthrough
	case "password":
		fs.StringVar(&pwFile, "password-file", "", "read the password from the first line of this file")
	case "list":
		fs.BoolVar(&all, "all", false, "list guests too")
	case "role":
	default:
		fmt.Fprint(stderr, userUsage)
		return fmt.Errorf("user: unknown subcommand %q: want add, role, password or list", sub)
	}
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	want := map[string]int{"add": 1, "password": 1, "role": 2, "list": 0}[sub]
	if fs.NArg() != want {
		fs.Usage()
		return fmt.Errorf("user %s: want %d argument(s), got %d", sub, want, fs.NArg())
	}
	store, _, err := openStore(ctx, &c)
	if err != nil {
		return err
	}
	defer store.Close()
	u := userAdmin{store: store, out: stdout}
	switch sub {
	case "add":
		if makeAdmin && makeMod {
			return errors.New("user add: --admin or --moderator, not both")
		}
		role := parley.RoleUser
		if makeAdmin {
			role = parley.RoleAdmin
		} else if makeMod {
			role = parley.RoleModerator
		}
		pw, err := readPassword(pwFile, stdin, getenv)
		if err != nil {
			return err
		}
		return u.add(ctx, fs.Arg(0), pw, role)
	case "password":
		pw, err := readPassword(pwFile, stdin, getenv)
		if err != nil {
			return err
		}
		return u.setPassword(ctx, fs.Arg(0), pw)
	case "role":
		return u.role(ctx, fs.Arg(0), fs.Arg(1))
	}
	return u.list(ctx, all)
}

// readPassword takes the password from file's first line, else
// PARLEY_PASSWORD, else the first line of stdin.
func readPassword(file string, stdin io.Reader, getenv func(string) string) (string, error) {
	var src io.Reader
	switch {
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("password file: %w", err)
		}
		defer f.Close()
		src = f
	case getenv("PARLEY_PASSWORD") != "":
		return getenv("PARLEY_PASSWORD"), nil
	default:
		src = stdin
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			fmt.Fprint(os.Stderr, "Password: ")
			defer fmt.Fprintln(os.Stderr)
			defer noEcho(f)()
		}
	}
	line, err := bufio.NewReader(io.LimitReader(src, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	if line = strings.TrimRight(line, "\r\n"); line == "" {
		return "", errors.New("no password given: use --password-file, PARLEY_PASSWORD or standard input")
	}
	return line, nil
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// noEcho stops the terminal f from echoing what is typed, with stty (no
// dependency for one prompt), and returns what turns echo back on. If
// stty is not there, the password is echoed.
func noEcho(f *os.File) func() {
	stty := func(arg string) error {
		cmd := exec.Command("stty", arg)
		cmd.Stdin = f
		return cmd.Run()
	}
	if stty("-echo") != nil {
		return func() {}
	}
	return func() { _ = stty("echo") }
}

// userAdmin is what parley user does to a store.
type userAdmin struct {
	store parley.Store
	out   io.Writer
}

// operator is who the action log names for what the command line does.
var operator = parley.Actor{Name: "operator", Role: parley.RoleAdmin, Via: "cli"}

func (u userAdmin) add(ctx context.Context, nick, pw string, role parley.Role) error {
	if !parley.ValidNickname(nick) {
		return fmt.Errorf("user add: %q is not a valid nickname (1–%d letters, digits, _ - .)", nick, parley.MaxNicknameLen)
	}
	if cr, err := u.store.Credentials(ctx, nick); err == nil && cr.PasswordHash != "" {
		return fmt.Errorf("user add: %s is already registered (parley user password %s sets a new password)", cr.Nickname, cr.Nickname)
	} else if err != nil && parley.ErrorCode(err) != parley.ENotFound {
		return fmt.Errorf("user add: %w", err)
	}
	user, err := u.register(ctx, nick, pw)
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	if role != parley.RoleUser {
		if user, err = u.store.SetRole(ctx, user.Nickname, role); err != nil {
			return fmt.Errorf("user add: set the role: %w", err)
		}
	}
	u.log(ctx, parley.ActRole, user.Nickname, "registered; role "+roleName(role))
	fmt.Fprintf(u.out, "user %s added (role: %s)\n", user.Nickname, roleName(role))
	return nil
}

func (u userAdmin) setPassword(ctx context.Context, nick, pw string) error {
	cr, err := u.store.Credentials(ctx, nick)
	if err != nil {
		return fmt.Errorf("user password: %s: %s", nick, parley.ErrorMessage(err))
	}
	if cr.PasswordHash == "" {
		return fmt.Errorf("user password: %s is a guest (parley user add %s registers it)", cr.Nickname, cr.Nickname)
	}
	if _, err := u.register(ctx, cr.Nickname, pw); err != nil {
		return fmt.Errorf("user password: %w", err)
	}
	if err := u.store.DeleteSessions(ctx, cr.Nickname, ""); err != nil {
		return fmt.Errorf("user password: end the logins: %w", err)
	}
	fmt.Fprintf(u.out, "password of %s set; their logins ended\n", cr.Nickname)
	return nil
}

// register checks and hashes pw and stores it as nick's password.
func (u userAdmin) register(ctx context.Context, nick, pw string) (parley.User, error) {
	switch n := utf8.RuneCountInString(pw); {
	case !utf8.ValidString(pw):
		return parley.User{}, errors.New("the password is not valid UTF-8")
	case n < minPasswordChars || n > maxPasswordChars:
		return parley.User{}, fmt.Errorf("a password is %d–%d characters", minPasswordChars, maxPasswordChars)
	case strings.EqualFold(pw, nick):
		return parley.User{}, errors.New("the password must not be the nickname")
	}
	hash, err := password.Hash(ctx, pw, password.Params{})
	if err != nil {
		return parley.User{}, err
	}
	return u.store.SetPassword(ctx, nick, hash, time.Now().UTC())
}

func (u userAdmin) role(ctx context.Context, nick, name string) error {
	role := parley.Role(name)
	if name == "none" {
		role = parley.RoleUser
	}
	if name == "" || !parley.ValidRole(role) {
		return fmt.Errorf("user role: %q: want admin, moderator or none", name)
	}
	user, err := u.store.SetRole(ctx, nick, role)
	if err != nil {
		return fmt.Errorf("user role: %s: %s", nick, parley.ErrorMessage(err))
	}
	u.log(ctx, parley.ActRole, user.Nickname, roleName(role))
	fmt.Fprintf(u.out, "%s is now %s\n", user.Nickname, roleName(role))
	return nil
}

func (u userAdmin) list(ctx context.Context, all bool) error {
	tw := tabwriter.NewWriter(u.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NICKNAME\tROLE\tREGISTERED\tLAST SEEN")
	after := ""
	for {
		page, err := u.store.Users(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("user list: %w", err)
		}
		for _, us := range page {
			if us.Registered || all {
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", us.Nickname, roleName(us.Role), us.Registered, us.LastSeen.UTC().Format(time.RFC3339))
			}
		}
		if len(page) < 1000 {
			return tw.Flush()
		}
		after = parley.NickKey(page[len(page)-1].Nickname)
	}
}

// log writes the action log; a failure is reported, not fatal (the act
// is done).
func (u userAdmin) log(ctx context.Context, kind parley.ActionKind, target, detail string) {
	if _, err := u.store.LogAction(ctx, parley.Action{At: time.Now().UTC(), Actor: operator.Name, Kind: kind, Target: target, Detail: detail}); err != nil {
		fmt.Fprintf(u.out, "warning: the action log was not written: %v\n", err)
	}
}

func roleName(r parley.Role) string {
	if r == parley.RoleUser {
		return "none"
	}
	return string(r)
}
