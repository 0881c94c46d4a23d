package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const announceUsage = `Usage: parley announce [flags] TEXT

Posts a site-wide announcement to a running server (POST /api/announcements).
Everyone connected sees it at once (or, with --starts, when it starts); people
who connect while it is active see it when they arrive. TEXT is markdown.
`

// announce posts an announcement to a running server over HTTP.
func announce(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	var server, token, starts, ends string
	var ttl time.Duration
	fs := newFlagSet("parley announce", stderr, announceUsage)
	fs.stringVar(&server, "server", "PARLEY_SERVER", "http://localhost:8080", "base URL of the running server")
	fs.stringVar(&token, "token", "PARLEY_ADMIN_TOKEN", "", "the server's admin token")
	fs.durationVar(&ttl, "ttl", "PARLEY_ANNOUNCE_TTL", 0, "how long the announcement stays active (0: the server's default, 24h)")
	fs.stringVar(&starts, "starts", "PARLEY_ANNOUNCE_STARTS", "", "when it starts, RFC 3339 (2026-12-01T09:00:00Z); empty: now")
	fs.stringVar(&ends, "ends", "PARLEY_ANNOUNCE_ENDS", "", "when it ends, RFC 3339, if --ttl is not given")
	if err := fs.parse(args, getenv); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if strings.TrimSpace(text) == "" {
		fs.Usage()
		return errors.New("announce: no text given")
	}
	body := map[string]string{"text": text}
	if ttl > 0 {
		body["ttl"] = ttl.String()
	}
	for key, v := range map[string]string{"starts_at": starts, "ends_at": ends} {
		if v != "" {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				return fmt.Errorf("announce: --%s %q is not an RFC 3339 time like 2026-12-01T09:00:00Z", strings.TrimSuffix(key, "_at"), v)
			}
			body[key] = v
		}
	}
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(server, "/")+"/api/announcements", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("announce: %w", err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusCreated {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(respBody, &e) == nil && e.Error.Code != "" {
			return fmt.Errorf("announce: %s (%s, HTTP %d)", e.Error.Message, e.Error.Code, resp.StatusCode)
		}
		return fmt.Errorf("announce: HTTP %d", resp.StatusCode)
	}
	var a struct {
		ID        int64     `json:"id"`
		StartsAt  time.Time `json:"starts_at"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	_ = json.Unmarshal(respBody, &a)
	if starts != "" {
		fmt.Fprintf(stdout, "announcement %d scheduled from %s until %s\n", a.ID, a.StartsAt.Local().Format(time.RFC1123), a.ExpiresAt.Local().Format(time.RFC1123))
		return nil
	}
	fmt.Fprintf(stdout, "announcement %d posted, active until %s\n", a.ID, a.ExpiresAt.Local().Format(time.RFC1123))
	return nil
}
