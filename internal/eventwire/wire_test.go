package eventwire_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/brokertest"
	"github.com/parley-chat/parley/internal/eventwire"
)

func roundTrip(t *testing.T, ev *parley.Event) *parley.Event {
	t.Helper()
	data, err := eventwire.Marshal(ev)
	if err != nil {
		t.Fatalf("Marshal(%+v): %v", ev, err)
	}
	got, err := eventwire.Unmarshal(data)
	if err != nil {
		t.Fatalf("Unmarshal(%s): %v", data, err)
	}
	return got
}

// TestEveryFieldRoundTrips fills every field of Event, Message,
// Announcement and NodePresence by reflection, so a field added to them
// and not to the wire fails here.
func TestEveryFieldRoundTrips(t *testing.T) {
	ev := brokertest.FullEvent(t)
	got := roundTrip(t, ev)
	if !reflect.DeepEqual(got, ev) {
		data, _ := eventwire.Marshal(ev)
		t.Errorf("round trip changed the event (a field missing from the wire?)\n got %+v\nwant %+v\nwire %s",
			describe(got), describe(ev), data)
	}
}

// TestEachFieldAloneRoundTrips sets one field at a time: an encoding must
// not depend on a field's neighbours being set.
func TestEachFieldAloneRoundTrips(t *testing.T) {
	events := brokertest.SingleFieldEvents(t)
	if len(events) < 20 {
		t.Fatalf("only %d fields found; the walk is broken", len(events))
	}
	for name, ev := range events {
		if got := roundTrip(t, ev); !reflect.DeepEqual(got, ev) {
			t.Errorf("%s: round trip changed the event\n got %s\nwant %s", name, describe(got), describe(ev))
		}
	}
}

func TestZeroAndStoreShapedEventsRoundTrip(t *testing.T) {
	ms := time.UnixMilli(1764000000123).UTC() // what the stores give back
	cases := map[string]*parley.Event{
		"zero":   {},
		"typing": {Kind: parley.EventTyping, Node: "n1", Room: "lobby", Nickname: "bob"},
		"stored message": {Kind: parley.EventMessage, Node: "n1", Room: "lobby", Message: &parley.Message{
			ID: 1 << 53, Room: "lobby", Seq: 1<<62 + 1, From: "alice", Text: "hi", HTML: "<p>hi</p>",
			Mentions: []string{"bob"}, ClientID: "c-1", CreatedAt: ms}},
		"epoch and year 1": {Announcement: &parley.Announcement{CreatedAt: time.Unix(0, 0).UTC(), ExpiresAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)}},
		"year 9999":        {Message: &parley.Message{CreatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}},
		"before 1970":      {Message: &parley.Message{CreatedAt: time.Date(1969, 12, 31, 23, 59, 59, 999_000_001, time.UTC)}},
		"negative ids":     {Message: &parley.Message{ID: -5, Seq: -1}, Announcement: &parley.Announcement{ID: -7}},
		"empty presence":   {Kind: parley.EventHeartbeat, Presence: &parley.NodePresence{}},
		"presence with an empty room": {Kind: parley.EventHeartbeat, Presence: &parley.NodePresence{
			Users: []string{"a"}, Rooms: map[string][]string{"lobby": {}, "x": nil, "y": {"a"}}, Ask: true}},
	}
	for name, ev := range cases {
		if got := roundTrip(t, ev); !reflect.DeepEqual(got, ev) {
			t.Errorf("%s: round trip changed the event\n got %s\nwant %s", name, describe(got), describe(ev))
		}
	}
}

// TestTimesComeBackInUTC: another location or a monotonic reading is not
// carried, the instant is.
func TestTimesComeBackInUTC(t *testing.T) {
	loc := time.FixedZone("UTC+8", 8*3600)
	now := time.Now().In(loc)
	got := roundTrip(t, &parley.Event{Message: &parley.Message{CreatedAt: now}})
	if !got.Message.CreatedAt.Equal(now) || got.Message.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v; want %v in UTC", got.Message.CreatedAt, now)
	}
}

func TestEmptyListsComeBackNil(t *testing.T) {
	ev := &parley.Event{Message: &parley.Message{Mentions: []string{}}, Presence: &parley.NodePresence{Users: []string{}, Rooms: map[string][]string{}}}
	got := roundTrip(t, ev)
	if got.Message.Mentions != nil || got.Presence.Users != nil || got.Presence.Rooms != nil {
		t.Errorf("empty lists came back as %#v, %#v", got.Message, got.Presence)
	}
}

// TestGolden pins the format: older nodes read it, so a change must be
// deliberate (and a breaking one must raise Version).
func TestGolden(t *testing.T) {
	ev := &parley.Event{Kind: parley.EventMessage, Node: "n1", Room: "lobby", Message: &parley.Message{
		ID: 7, Room: "lobby", Seq: 3, From: "alice", Text: "hi *there* <3", HTML: "<p>hi <em>there</em> &lt;3</p>",
		Mentions: []string{"bob"}, ClientID: "c1", CreatedAt: time.UnixMilli(1764000000123).Add(456).UTC()}}
	const want = `{"v":1,"k":"message","o":"n1","r":"lobby","m":{"id":7,"r":"lobby","s":3,"f":"alice","t":"hi *there* <3","h":"<p>hi <em>there</em> &lt;3</p>","mn":["bob"],"c":"c1","at":1764000000123,"atn":456}}`
	data, err := eventwire.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, want)
	}
	ann := &parley.Event{Kind: parley.EventAnnouncement, Announcement: &parley.Announcement{ID: 2, Text: "t", HTML: "<p>t</p>",
		CreatedAt: time.UnixMilli(1).UTC(), ExpiresAt: time.UnixMilli(2).UTC()}}
	const wantAnn = `{"v":1,"k":"announcement","a":{"id":2,"t":"t","h":"<p>t</p>","at":1,"exp":2}}`
	if data, _ := eventwire.Marshal(ann); string(data) != wantAnn {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, wantAnn)
	}
	hb := &parley.Event{Kind: parley.EventHeartbeat, Node: "n2", Presence: &parley.NodePresence{Users: []string{"a", "b"}, Rooms: map[string][]string{"lobby": {"a"}}, Ask: true}}
	const wantHB = `{"v":1,"k":"node.heartbeat","o":"n2","p":{"u":["a","b"],"r":{"lobby":["a"]},"ask":true}}`
	if data, _ := eventwire.Marshal(hb); string(data) != wantHB {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, wantHB)
	}
	ban := &parley.Event{Kind: parley.EventBan, Ban: &parley.Ban{ID: 4, Kind: parley.BanIP, Value: "192.0.2.7", Nickname: "troll",
		Reason: "spam", By: "mod", CreatedAt: time.UnixMilli(5).UTC(), ExpiresAt: time.UnixMilli(6).UTC()}}
	const wantBan = `{"v":1,"k":"node.ban","b":{"id":4,"k":"ip","v":"192.0.2.7","n":"troll","why":"spam","by":"mod","at":5,"exp":6}}`
	if data, _ := eventwire.Marshal(ban); string(data) != wantBan {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, wantBan)
	}
	mute := &parley.Event{Kind: parley.EventMuted, Room: "lobby", Nickname: "bob", Mute: &parley.Mute{Room: "lobby", Nickname: "bob", CreatedAt: time.UnixMilli(5).UTC()}}
	const wantMute = `{"v":1,"k":"muted","r":"lobby","n":"bob","mu":{"r":"lobby","n":"bob","at":5}}`
	if data, _ := eventwire.Marshal(mute); string(data) != wantMute {
		t.Errorf("Marshal =\n%s\nwant\n%s", data, wantMute)
	}
}

// TestUnknownKeysAreIgnored: a newer node's events, with keys this one
// does not know, still read.
func TestUnknownKeysAreIgnored(t *testing.T) {
	data := `{"v":1,"k":"message","zz":{"deep":[1,{"x":null}]},"o":"n9","r":"lobby","m":{"id":1,"new":"x","at":5,"later":[true]},"p":{"u":["a"],"future":1},"future":"yes"}`
	got, err := eventwire.Unmarshal([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	want := &parley.Event{Kind: parley.EventMessage, Node: "n9", Room: "lobby",
		Message: &parley.Message{ID: 1, CreatedAt: time.UnixMilli(5).UTC()}, Presence: &parley.NodePresence{Users: []string{"a"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s\nwant %s", describe(got), describe(want))
	}
}

func TestOtherVersionsAreRefused(t *testing.T) {
	for _, data := range []string{
		`{"v":2,"k":"message"}`,
		`{"v":2,"k":"message","m":"a later version made this a string"}`,
		`{"k":"message","v":0}`,
		`{"v":"1"}`,
	} {
		_, err := eventwire.Unmarshal([]byte(data))
		if !errors.Is(err, eventwire.ErrVersion) {
			t.Errorf("Unmarshal(%s) = %v; want ErrVersion", data, err)
			continue
		}
		if !strings.Contains(err.Error(), "this node reads version 1") {
			t.Errorf("error %q does not say which version this node reads", err)
		}
	}
	_, err := eventwire.Unmarshal([]byte(`{"k":"message"}`))
	if err == nil || !strings.Contains(err.Error(), "no version") {
		t.Errorf("Unmarshal without a version = %v; want a 'no version' error", err)
	}
}

func TestBadPayloadsFail(t *testing.T) {
	for _, data := range []string{
		``, `null`, `[]`, `"x"`, `{`, `{"v":1,"m":[]}`, `{"v":1,"m":{"id":"7"}}`, `{"v":1,"m":{"id":1.5}}`,
		`{"v":1,"m":{"at":1,"atn":1000000}}`, `{"v":1,"m":{"at":1,"atn":-1}}`, `{"v":1,"m":{"atn":1}}`,
		`{"v":1,"a":{"exp":253402300800000}}`, `{"v":1,"a":{"at":-62135596800001}}`, `{"v":1,"p":{"r":{"x":"y"}}}`,
	} {
		if ev, err := eventwire.Unmarshal([]byte(data)); err == nil {
			t.Errorf("Unmarshal(%q) = %s, nil; want an error", data, describe(ev))
		}
	}
	if _, err := eventwire.Marshal(nil); err == nil {
		t.Error("Marshal(nil): nil error")
	}
	far := &parley.Event{Kind: parley.EventMessage, Message: &parley.Message{CreatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	if _, err := eventwire.Marshal(far); err == nil || !strings.Contains(err.Error(), "years 1 to 9999") {
		t.Errorf("Marshal of year 10000 = %v; want an out-of-range error", err)
	}
}

func TestAppendMarshalAppends(t *testing.T) {
	ev := &parley.Event{Kind: parley.EventJoined, Room: "r"}
	one, _ := eventwire.Marshal(ev)
	both, err := eventwire.AppendMarshal([]byte("prefix"), ev)
	if err != nil || !bytes.Equal(both, append([]byte("prefix"), one...)) {
		t.Errorf("AppendMarshal = %q, %v", both, err)
	}
}

// TestLargeEventIsNotInflated: 40 KB of text and of HTML stay about 80 KB
// (HTML is not escaped to \u003c).
func TestLargeEventIsNotInflated(t *testing.T) {
	text := strings.Repeat("a <b>c</b> & d ", 40<<10/15)
	ev := &parley.Event{Kind: parley.EventMessage, Message: &parley.Message{Text: text, HTML: text}}
	data, err := eventwire.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 2*len(text)+200 {
		t.Errorf("%d bytes for 2×%d bytes of text", len(data), len(text))
	}
	if got := roundTrip(t, ev); !reflect.DeepEqual(got, ev) {
		t.Error("large event changed in the round trip")
	}
}

func FuzzUnmarshal(f *testing.F) {
	seed := []*parley.Event{brokertest.FullEvent(f), {}, {Kind: parley.EventJoined, Room: "lobby", Nickname: "a"}}
	for _, ev := range brokertest.SingleFieldEvents(f) {
		seed = append(seed, ev)
	}
	for _, ev := range seed {
		data, err := eventwire.Marshal(ev)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{"v":1,"m":{"at":-62135596800000}}`, `{"V":1,"K":"x","M":{"Mn":[]}}`, `{"v":1,"p":{"r":{"a":null,"b":[]}}}`, `{"v":2}`, `null`, "{\"v\":1,\"r\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := eventwire.Unmarshal(data)
		if err != nil {
			return
		}
		once, err := eventwire.Marshal(ev)
		if err != nil {
			t.Fatalf("Unmarshal accepted %q but Marshal of the result failed: %v", data, err)
		}
		again, err := eventwire.Unmarshal(once)
		if err != nil {
			t.Fatalf("Unmarshal of Marshal's output %q failed: %v", once, err)
		}
		if !reflect.DeepEqual(again, ev) {
			t.Fatalf("re-marshalled event differs:\n%s\n%s", describe(ev), describe(again))
		}
		twice, err := eventwire.Marshal(again)
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("Marshal is not stable: %q then %q (%v)", once, twice, err)
		}
	})
}

// describe prints an event with the values behind its pointers.
func describe(ev *parley.Event) string {
	if ev == nil {
		return "<nil>"
	}
	return reflectString(reflect.ValueOf(*ev))
}

func reflectString(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return "nil"
		}
		return "&" + reflectString(v.Elem())
	case reflect.Struct:
		if t, ok := v.Interface().(time.Time); ok {
			return t.Format(time.RFC3339Nano) + "(" + t.Location().String() + ")"
		}
		var b strings.Builder
		b.WriteString("{")
		for i := range v.NumField() {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(v.Type().Field(i).Name + ":" + reflectString(v.Field(i)))
		}
		b.WriteString("}")
		return b.String()
	default:
		return fmt.Sprintf("%#v", v.Interface())
	}
}

func BenchmarkMarshal(b *testing.B) {
	ev := brokertest.ChatEvent("lobby", "alice", 42)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eventwire.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	data, err := eventwire.Marshal(brokertest.ChatEvent("lobby", "alice", 42))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eventwire.Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}
