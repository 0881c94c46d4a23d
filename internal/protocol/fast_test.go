package protocol

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeFast: whatever the fast path accepts, encoding/json decodes
// to the same command (and what it refuses goes to encoding/json anyway).
func FuzzDecodeFast(f *testing.F) {
	for _, s := range []string{
		`{"type":"send","room":"lobby","text":"hello there","client_id":"c-123","ref":"42"}`,
		`{"type":"history","with":"bob","before":3,"limit":-0}`, ` { "type" : "rooms" } `, `{}`,
		`{"type":"send","room":"大厅","text":"你好 🌍"}`, `{"type":"send","text":"a\"b"}`,
		`{"type":"x","limit":01}`, `{"type":"x","limit":1.5}`, `{"Type":"send"}`, `{"type":"a","type":"b"}`,
		`{"text":"\xff"}`, `{"text":"` + "\x01" + `"}`, `{"limit":99999999999999999999}`, `{"type":null}`,
		`{"type":"rooms"}{}`, `{"type":"rooms",}`, `{"other":1}`, "{\"text\":\"\u2028\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		var fast command
		if !decodeFast(frame, &fast) {
			return
		}
		var slow command
		if err := json.Unmarshal(frame, &slow); err != nil {
			t.Fatalf("fast path accepted %q; encoding/json: %v", frame, err)
		}
		if fast != slow {
			t.Fatalf("%q: fast path %+v; encoding/json %+v", frame, fast, slow)
		}
	})
}

// The fast path takes the frames clients send most.
func TestDecodeFastTakesCommonFrames(t *testing.T) {
	for _, s := range []string{
		`{"type":"send","room":"lobby","text":"hello there","client_id":"c-123","ref":"42"}`,
		`{"type":"hello","nickname":"alice"}`, `{"type":"resume","room":"lobby","after":41,"limit":200,"ref":"r"}`,
		`{"type":"send","room":"大厅","text":"你好 🌍"}`,
	} {
		var c command
		if !decodeFast([]byte(s), &c) {
			t.Errorf("fast path refused %s", s)
		}
	}
}

func BenchmarkDecodeSlowPath(b *testing.B) {
	frame := []byte(`{"type":"send","room":"lobby","text":"hello \"there\"","client_id":"c-123","ref":"42"}`)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Decode(frame)
	}
}
