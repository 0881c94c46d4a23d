package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// A frame the generator writes is one a WebSocket server reads back: the
// header's length in all three sizes, the mask applied, the payload intact.
func TestClientFrameReadsBack(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 70000} {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(i*7 + n)
		}
		b := appendClientFrame([]byte("junk"), ws.OpText, p, [4]byte{1, 2, 3, 0xfe})
		if string(b[:4]) != "junk" {
			t.Fatalf("%d bytes: the frame overwrote what was in dst", n)
		}
		f, err := ws.ReadFrame(bufio.NewReader(bytes.NewReader(b[4:])))
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		if !f.Header.Fin || f.Header.OpCode != ws.OpText || !f.Header.Masked || f.Header.Length != int64(n) {
			t.Fatalf("%d bytes: header %+v", n, f.Header)
		}
		ws.Cipher(f.Payload, f.Header.Mask, 0)
		if !bytes.Equal(f.Payload, p) {
			t.Fatalf("%d bytes: the payload did not survive masking", n)
		}
	}
}

// The send command's strings are JSON whether or not they need escaping.
func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "bench7", "pb 1 2 3 xxxx", `a"b`, `a\b`, "tab\there", "ünï", "\x7f", "<&>"} {
		got := appendJSONString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("%q → %s → %q, %v", s, got, back, err)
		}
	}
}

// The generator's client_ids are made as the web client's: a time prefix
// of 9 base-36 digits that sorts in the order the ids were made, '-', and
// the send's number on its connection.
func TestClientIDsSortInTheOrderTheyWereMade(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-z]{9}-[0-9]+$`)
	prev := ""
	for i := range 50 {
		id := string(appendClientID(nil, strconv.Itoa(i)))
		if !shape.MatchString(id) {
			t.Fatalf("client_id %q; want 9 base-36 digits, '-', the send's number", id)
		}
		if p := id[:9]; p < prev {
			t.Fatalf("client_id %q made after one with the time prefix %q sorts before it", id, prev)
		} else {
			prev = p
		}
		time.Sleep(200 * time.Microsecond)
	}
}
