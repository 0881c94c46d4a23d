package protocol_test

import (
	"testing"
	"time"

	"github.com/parley-chat/parley"
	"github.com/parley-chat/parley/internal/protocol"
)

// The frames of accounts and moderation, as docs/PROTOCOL.md shows them.
func TestEncodeModerationFrames(t *testing.T) {
	at := time.UnixMilli(1763900000000).UTC()
	tomb := &parley.Message{ID: 9, Room: "lobby", Seq: 4, From: "troll", CreatedAt: at, Deleted: true, DeletedBy: "mod"}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"tombstone", protocol.EncodeEvent(&parley.Event{Kind: parley.EventDeleted, Room: "lobby", Message: tomb}),
			`{"type":"message.deleted","msg":{"id":9,"room":"lobby","seq":4,"from":"troll","text":"","html":"","mentions":[],"ts":1763900000000,"deleted":true,"deleted_by":"mod"}}`},
		{"announcement deleted", protocol.EncodeEvent(&parley.Event{Kind: parley.EventAnnouncementDeleted, Announcement: &parley.Announcement{ID: 7}}),
			`{"type":"announcement.deleted","announcement":{"id":7,"text":"","html":"","ts":0,"starts":0,"expires":0}}`},
		{"scheduled announcement", protocol.EncodeEvent(&parley.Event{Kind: parley.EventAnnouncement, Announcement: &parley.Announcement{ID: 8, Text: "t", HTML: "<p>t</p>", CreatedAt: at, StartsAt: at.Add(time.Hour), ExpiresAt: at.Add(2 * time.Hour)}}),
			`{"type":"announcement","announcement":{"id":8,"text":"t","html":"<p>t</p>","ts":1763900000000,"starts":1763903600000,"expires":1763907200000}}`},
		{"slow mode", protocol.EncodeEvent(&parley.Event{Kind: parley.EventRoomSettings, Room: "lobby", Settings: &parley.RoomSettings{SlowMode: 10 * time.Second}}),
			`{"type":"room.settings","room":"lobby","slow_mode_ms":10000}`},
		{"slow mode off", protocol.EncodeEvent(&parley.Event{Kind: parley.EventRoomSettings, Room: "lobby", Settings: &parley.RoomSettings{}}),
			`{"type":"room.settings","room":"lobby","slow_mode_ms":0}`},
		{"muted", protocol.EncodeEvent(&parley.Event{Kind: parley.EventMuted, Room: "lobby", Nickname: "bob", Mute: &parley.Mute{Room: "lobby", Nickname: "bob", Reason: "spam", ExpiresAt: at}}),
			`{"type":"muted","nickname":"bob","room":"lobby","until":1763900000000,"reason":"spam"}`},
		{"muted for good", protocol.EncodeEvent(&parley.Event{Kind: parley.EventMuted, Mute: &parley.Mute{Room: "lobby", Nickname: "bob"}}),
			`{"type":"muted","nickname":"bob","room":"lobby","until":0}`},
		{"unmuted", protocol.EncodeEvent(&parley.Event{Kind: parley.EventUnmuted, Room: "lobby", Nickname: "bob"}),
			`{"type":"unmuted","nickname":"bob","room":"lobby"}`},
		{"role", protocol.EncodeEvent(&parley.Event{Kind: parley.EventRole, Nickname: "bob", Role: parley.RoleModerator}),
			`{"type":"role","nickname":"bob","role":"moderator"}`},
		{"role taken", protocol.EncodeEvent(&parley.Event{Kind: parley.EventRole, Nickname: "bob"}),
			`{"type":"role","nickname":"bob","role":""}`},
		{"welcome of an admin", protocol.EncodeReply(&parley.Reply{Op: parley.OpHello, Ref: "1", Nickname: "root", Role: parley.RoleAdmin, Reg: true}),
			`{"type":"welcome","ref":"1","nickname":"root","role":"admin","registered":true}`},
		{"welcome of a guest", protocol.EncodeReply(&parley.Reply{Op: parley.OpHello, Ref: "1", Nickname: "g", Token: "tok"}),
			`{"type":"welcome","ref":"1","nickname":"g","token":"tok"}`},
		{"join with slow mode", protocol.EncodeReply(&parley.Reply{Op: parley.OpJoin, Room: "lobby", Members: []string{"a"}, Count: 1, LastSeq: 3, SlowMode: 5 * time.Second}),
			`{"type":"ack","room":"lobby","members":["a"],"member_count":1,"last_seq":3,"slow_mode_ms":5000}`},
		{"banned", protocol.EncodeError("2", parley.Errorf(parley.EBanned, "you are banned until further notice: spam")),
			`{"type":"error","ref":"2","code":"banned","message":"you are banned until further notice: spam"}`},
		{"slow mode refusal", protocol.EncodeError("3", &parley.Error{Code: parley.ERateLimited, Message: "slow mode: one message every 10 s", RetryAfter: 7 * time.Second}),
			`{"type":"error","ref":"3","code":"rate_limited","message":"slow mode: one message every 10 s","retry_after_ms":7000}`},
	}
	for _, c := range cases {
		if string(c.got) != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, c.got, c.want)
		}
	}
}
