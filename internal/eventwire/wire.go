// Package eventwire is what the networked brokers (internal/natsbroker,
// internal/redisbroker) share apart from their server: the versioned wire
// encoding of a parley.Event (Marshal, Unmarshal), the Hub that hands each
// received event to the subscribers of one process, and the Queue that
// feeds a broker's one ordered publishing path.
//
// # Wire format
//
// An event is one compact JSON object with short keys, encoded through the
// wire structs of this file (never through parley's types, so a field added
// to parley.Event changes nothing on the wire until it is added here):
//
//	{"v":1,"k":"message","o":"node-1","r":"lobby","m":{"id":7,"r":"lobby","s":3,
//	 "f":"alice","t":"hi *there*","h":"<p>hi <em>there</em></p>","c":"c1","at":1764000000123}}
//
//	v    version, always 1 so far; a payload of any other version is refused
//	k    Kind             o  Node (the origin)   r  Room   n  Nickname
//	m    Message: id ID, r Room, s Seq, f From, to To, t Text, h HTML,
//	     mn Mentions, c ClientID, at/atn CreatedAt
//	     del Deleted, db DeletedBy
//	a    Announcement: id ID, t Text, h HTML, at/atn CreatedAt, st/stn StartsAt,
//	     exp/expn ExpiresAt, by By
//	p    Presence: u Users, r Rooms (room → nicknames), ask Ask
//	why  Reason           role  Role
//	b    Ban: id ID, k Kind, v Value, n Nickname, why Reason, by By,
//	     at/atn CreatedAt, exp/expn ExpiresAt
//	mu   Mute: r Room, n Nickname, why Reason, by By, at/atn CreatedAt,
//	     exp/expn ExpiresAt
//	set  Settings: slow SlowMode (nanoseconds)
//
// Empty fields are left out. A time is two numbers: at is Unix milliseconds
// (what the stores keep) and atn the nanoseconds within that millisecond,
// left out when 0; a zero time.Time is left out altogether. Times come back
// in UTC (time.UTC, no monotonic reading); times before year 1 or after
// year 9999 are refused. HTML is not escaped (JSON does not need it). An
// empty Mentions, Users or Rooms comes back nil.
//
// # Compatibility
//
// Unmarshal ignores keys it does not know, so a newer node may add keys
// and older nodes still read its events. A change older nodes would
// misread must raise Version; they then refuse such events with an error
// that names both versions.
package eventwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parley-chat/parley"
)

// Version is the version of the wire format this package writes, and the
// only one it reads.
const Version = 1

// wireEvent is parley.Event on the wire.
type wireEvent struct {
	V            int               `json:"v"`
	Kind         parley.EventKind  `json:"k,omitempty"`
	Node         string            `json:"o,omitempty"`
	Room         string            `json:"r,omitempty"`
	Nickname     string            `json:"n,omitempty"`
	Message      *wireMessage      `json:"m,omitempty"`
	Announcement *wireAnnouncement `json:"a,omitempty"`
	Presence     *wirePresence     `json:"p,omitempty"`
	Reason       string            `json:"why,omitempty"`
	Role         parley.Role       `json:"role,omitempty"`
	Ban          *wireBan          `json:"b,omitempty"`
	Mute         *wireMute         `json:"mu,omitempty"`
	Settings     *wireSettings     `json:"set,omitempty"`
}

// wireBan is parley.Ban on the wire.
type wireBan struct {
	ID       int64          `json:"id,omitempty"`
	Kind     parley.BanKind `json:"k,omitempty"`
	Value    string         `json:"v,omitempty"`
	Nickname string         `json:"n,omitempty"`
	Reason   string         `json:"why,omitempty"`
	By       string         `json:"by,omitempty"`
	wireSpan
}

// wireMute is parley.Mute on the wire.
type wireMute struct {
	Room     string `json:"r,omitempty"`
	Nickname string `json:"n,omitempty"`
	Reason   string `json:"why,omitempty"`
	By       string `json:"by,omitempty"`
	wireSpan
}

// wireSpan is the CreatedAt and ExpiresAt of a ban or a mute; its keys sit
// beside the others (an embedded struct).
type wireSpan struct {
	CreatedAt *int64 `json:"at,omitempty"`
	CreatedNs int32  `json:"atn,omitempty"`
	ExpiresAt *int64 `json:"exp,omitempty"`
	ExpiresNs int32  `json:"expn,omitempty"`
}

func putSpan(what string, created, expires time.Time) (w wireSpan, err error) {
	if w.CreatedAt, w.CreatedNs, err = putTime(created); err != nil {
		return w, fmt.Errorf("%s created at: %w", what, err)
	}
	if w.ExpiresAt, w.ExpiresNs, err = putTime(expires); err != nil {
		return w, fmt.Errorf("%s expires at: %w", what, err)
	}
	return w, nil
}

func (w *wireSpan) get(what string) (created, expires time.Time, err error) {
	if created, err = getTime(w.CreatedAt, w.CreatedNs); err != nil {
		return created, expires, fmt.Errorf("%s created at: %w", what, err)
	}
	if expires, err = getTime(w.ExpiresAt, w.ExpiresNs); err != nil {
		return created, expires, fmt.Errorf("%s expires at: %w", what, err)
	}
	return created, expires, nil
}

// wireSettings is parley.RoomSettings on the wire.
type wireSettings struct {
	SlowMode time.Duration `json:"slow,omitempty"`
}

// wireMessage is parley.Message on the wire.
type wireMessage struct {
	ID        int64    `json:"id,omitempty"`
	Room      string   `json:"r,omitempty"`
	Seq       int64    `json:"s,omitempty"`
	From      string   `json:"f,omitempty"`
	To        string   `json:"to,omitempty"`
	Text      string   `json:"t,omitempty"`
	HTML      string   `json:"h,omitempty"`
	Mentions  []string `json:"mn,omitempty"`
	ClientID  string   `json:"c,omitempty"`
	CreatedAt *int64   `json:"at,omitempty"`
	CreatedNs int32    `json:"atn,omitempty"`
	Deleted   bool     `json:"del,omitempty"`
	DeletedBy string   `json:"db,omitempty"`
}

// wireAnnouncement is parley.Announcement on the wire.
type wireAnnouncement struct {
	ID        int64  `json:"id,omitempty"`
	Text      string `json:"t,omitempty"`
	HTML      string `json:"h,omitempty"`
	CreatedAt *int64 `json:"at,omitempty"`
	CreatedNs int32  `json:"atn,omitempty"`
	StartsAt  *int64 `json:"st,omitempty"`
	StartsNs  int32  `json:"stn,omitempty"`
	ExpiresAt *int64 `json:"exp,omitempty"`
	ExpiresNs int32  `json:"expn,omitempty"`
	By        string `json:"by,omitempty"`
}

// wirePresence is parley.NodePresence on the wire.
type wirePresence struct {
	Users []string            `json:"u,omitempty"`
	Rooms map[string][]string `json:"r,omitempty"`
	Ask   bool                `json:"ask,omitempty"`
}

// The times the wire carries: year 1 (the zero time.Time) to year 9999, in
// Unix milliseconds.
const (
	minMillis = -62135596800000 // 0001-01-01T00:00:00Z
	maxMillis = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// ErrVersion is returned (wrapped) by Unmarshal for a payload of a version
// this node does not understand.
var ErrVersion = errors.New("eventwire: unsupported version")

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// Marshal encodes ev. It fails only for a nil event or a time outside the
// years 1 to 9999.
func Marshal(ev *parley.Event) ([]byte, error) {
	return AppendMarshal(nil, ev)
}

// AppendMarshal appends the encoding of ev to dst and returns the extended
// buffer, like Marshal.
func AppendMarshal(dst []byte, ev *parley.Event) ([]byte, error) {
	if ev == nil {
		return dst, errors.New("eventwire: marshal a nil event")
	}
	w, err := toWire(ev)
	if err != nil {
		return dst, fmt.Errorf("eventwire: marshal %s event: %w", ev.Kind, err)
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf.Reset()
	if err := e.enc.Encode(w); err != nil {
		return dst, fmt.Errorf("eventwire: marshal %s event: %w", ev.Kind, err)
	}
	out := e.buf.Bytes()
	out = out[:len(out)-1] // Encode ends with a newline
	if e.buf.Cap() > 1<<20 {
		e.buf = bytes.Buffer{} // do not keep a huge buffer in the pool
	}
	return append(dst, out...), nil
}

// Unmarshal decodes an event that Marshal encoded, on this node or on one
// running another release: keys it does not know are ignored. A payload of
// another version fails with an error wrapping ErrVersion; one that is not
// a JSON object of the expected shape fails with the decoder's error.
func Unmarshal(data []byte) (*parley.Event, error) {
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		// A later version may change the type of a key: report the version
		// rather than the type mismatch it caused.
		var probe struct {
			V json.RawMessage `json:"v"`
		}
		if json.Unmarshal(data, &probe) == nil && probe.V != nil && string(probe.V) != "1" {
			return nil, fmt.Errorf("%w %s (this node reads version %d)", ErrVersion, probe.V, Version)
		}
		return nil, fmt.Errorf("eventwire: unmarshal: %w", err)
	}
	if w.V != Version {
		if w.V == 0 {
			return nil, fmt.Errorf("%w: the payload has no version (\"v\"); this node reads version %d", ErrVersion, Version)
		}
		return nil, fmt.Errorf("%w %d (this node reads version %d)", ErrVersion, w.V, Version)
	}
	ev, err := fromWire(&w)
	if err != nil {
		return nil, fmt.Errorf("eventwire: unmarshal %s event: %w", w.Kind, err)
	}
	return ev, nil
}

func toWire(ev *parley.Event) (*wireEvent, error) {
	w := &wireEvent{
		V:        Version,
		Kind:     ev.Kind,
		Node:     ev.Node,
		Room:     ev.Room,
		Nickname: ev.Nickname,
		Reason:   ev.Reason,
		Role:     ev.Role,
	}
	if m := ev.Message; m != nil {
		wm := &wireMessage{
			ID:        m.ID,
			Room:      m.Room,
			Seq:       m.Seq,
			From:      m.From,
			To:        m.To,
			Text:      m.Text,
			HTML:      m.HTML,
			Mentions:  m.Mentions,
			ClientID:  m.ClientID,
			Deleted:   m.Deleted,
			DeletedBy: m.DeletedBy,
		}
		var err error
		if wm.CreatedAt, wm.CreatedNs, err = putTime(m.CreatedAt); err != nil {
			return nil, fmt.Errorf("message created at: %w", err)
		}
		w.Message = wm
	}
	if a := ev.Announcement; a != nil {
		wa := &wireAnnouncement{ID: a.ID, Text: a.Text, HTML: a.HTML, By: a.By}
		var err error
		if wa.CreatedAt, wa.CreatedNs, err = putTime(a.CreatedAt); err != nil {
			return nil, fmt.Errorf("announcement created at: %w", err)
		}
		if wa.StartsAt, wa.StartsNs, err = putTime(a.StartsAt); err != nil {
			return nil, fmt.Errorf("announcement starts at: %w", err)
		}
		if wa.ExpiresAt, wa.ExpiresNs, err = putTime(a.ExpiresAt); err != nil {
			return nil, fmt.Errorf("announcement expires at: %w", err)
		}
		w.Announcement = wa
	}
	if p := ev.Presence; p != nil {
		w.Presence = &wirePresence{Users: p.Users, Rooms: p.Rooms, Ask: p.Ask}
	}
	if b := ev.Ban; b != nil {
		span, err := putSpan("ban", b.CreatedAt, b.ExpiresAt)
		if err != nil {
			return nil, err
		}
		w.Ban = &wireBan{ID: b.ID, Kind: b.Kind, Value: b.Value, Nickname: b.Nickname, Reason: b.Reason, By: b.By, wireSpan: span}
	}
	if m := ev.Mute; m != nil {
		span, err := putSpan("mute", m.CreatedAt, m.ExpiresAt)
		if err != nil {
			return nil, err
		}
		w.Mute = &wireMute{Room: m.Room, Nickname: m.Nickname, Reason: m.Reason, By: m.By, wireSpan: span}
	}
	if st := ev.Settings; st != nil {
		w.Settings = &wireSettings{SlowMode: st.SlowMode}
	}
	return w, nil
}

func fromWire(w *wireEvent) (*parley.Event, error) {
	ev := &parley.Event{
		Kind:     w.Kind,
		Node:     w.Node,
		Room:     w.Room,
		Nickname: w.Nickname,
		Reason:   w.Reason,
		Role:     w.Role,
	}
	if wm := w.Message; wm != nil {
		m := &parley.Message{
			ID:        wm.ID,
			Room:      wm.Room,
			Seq:       wm.Seq,
			From:      wm.From,
			To:        wm.To,
			Text:      wm.Text,
			HTML:      wm.HTML,
			Mentions:  nilIfEmpty(wm.Mentions),
			ClientID:  wm.ClientID,
			Deleted:   wm.Deleted,
			DeletedBy: wm.DeletedBy,
		}
		var err error
		if m.CreatedAt, err = getTime(wm.CreatedAt, wm.CreatedNs); err != nil {
			return nil, fmt.Errorf("message created at: %w", err)
		}
		ev.Message = m
	}
	if wa := w.Announcement; wa != nil {
		a := &parley.Announcement{ID: wa.ID, Text: wa.Text, HTML: wa.HTML, By: wa.By}
		var err error
		if a.CreatedAt, err = getTime(wa.CreatedAt, wa.CreatedNs); err != nil {
			return nil, fmt.Errorf("announcement created at: %w", err)
		}
		if a.StartsAt, err = getTime(wa.StartsAt, wa.StartsNs); err != nil {
			return nil, fmt.Errorf("announcement starts at: %w", err)
		}
		if a.ExpiresAt, err = getTime(wa.ExpiresAt, wa.ExpiresNs); err != nil {
			return nil, fmt.Errorf("announcement expires at: %w", err)
		}
		ev.Announcement = a
	}
	if wp := w.Presence; wp != nil {
		p := &parley.NodePresence{Users: nilIfEmpty(wp.Users), Ask: wp.Ask}
		if len(wp.Rooms) > 0 {
			p.Rooms = wp.Rooms
		}
		ev.Presence = p
	}
	if wb := w.Ban; wb != nil {
		b := &parley.Ban{ID: wb.ID, Kind: wb.Kind, Value: wb.Value, Nickname: wb.Nickname, Reason: wb.Reason, By: wb.By}
		var err error
		if b.CreatedAt, b.ExpiresAt, err = wb.get("ban"); err != nil {
			return nil, err
		}
		ev.Ban = b
	}
	if wm := w.Mute; wm != nil {
		m := &parley.Mute{Room: wm.Room, Nickname: wm.Nickname, Reason: wm.Reason, By: wm.By}
		var err error
		if m.CreatedAt, m.ExpiresAt, err = wm.get("mute"); err != nil {
			return nil, err
		}
		ev.Mute = m
	}
	if ws := w.Settings; ws != nil {
		ev.Settings = &parley.RoomSettings{SlowMode: ws.SlowMode}
	}
	return ev, nil
}

// nilIfEmpty makes an empty list nil: "[]" on the wire (from another
// encoder) reads as Marshal's leaving it out.
func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// putTime splits t into Unix milliseconds and the nanoseconds within the
// millisecond; the zero time is (nil, 0).
func putTime(t time.Time) (*int64, int32, error) {
	if t.IsZero() {
		return nil, 0, nil
	}
	ms := t.UnixMilli()
	if ms < minMillis || ms > maxMillis {
		return nil, 0, fmt.Errorf("%s is outside the years 1 to 9999", t)
	}
	return &ms, int32(t.Nanosecond() % 1e6), nil
}

// getTime is the inverse of putTime, in UTC.
func getTime(ms *int64, ns int32) (time.Time, error) {
	if ms == nil {
		if ns != 0 {
			return time.Time{}, fmt.Errorf("nanoseconds %d without milliseconds", ns)
		}
		return time.Time{}, nil
	}
	if *ms < minMillis || *ms > maxMillis {
		return time.Time{}, fmt.Errorf("%d ms is outside the years 1 to 9999", *ms)
	}
	if ns < 0 || ns >= 1e6 {
		return time.Time{}, fmt.Errorf("nanoseconds within the millisecond %d out of range [0, 999999]", ns)
	}
	return time.UnixMilli(*ms).Add(time.Duration(ns)).UTC(), nil
}
