package wsconn

import (
	"io"
	"net"
	"testing"
	"time"
)

// discardConn is a net.Conn whose writes go nowhere, to measure the
// writer's own cost.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (discardConn) Close() error                     { return nil }

// BenchmarkSendFlush queues 64 small frames and flushes them with one
// write; ns/op and allocs/op are per frame.
func BenchmarkSendFlush(b *testing.B) {
	c := New(discardConn{}, nil, Config{})
	payload := []byte(`{"type":"message","msg":{"id":1,"room":"lobby","seq":1,"from":"alice","text":"hi","html":"<p>hi</p>"}}`)
	batch := make([]frame, 64)
	for i := range batch {
		batch[i] = frame{1, payload, 1}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for i := 0; b.Loop(); i++ {
		if i%len(batch) == 0 {
			if _, err := c.writeBatch(batch, time.Second); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSendFramedFlush writes a room's batch of 64 events framed once
// (AppendText) as one queue entry, the fan-out path; ns/op and allocs/op
// are per frame.
func BenchmarkSendFramedFlush(b *testing.B) {
	c := New(discardConn{}, nil, Config{})
	payload := []byte(`{"type":"message","msg":{"id":1,"room":"lobby","seq":1,"from":"alice","text":"hi","html":"<p>hi</p>"}}`)
	payloads := make([][]byte, 64)
	for i := range payloads {
		payloads[i] = payload
	}
	batch := []frame{{opFramed, AppendText(nil, payloads), len(payloads)}}
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for i := 0; b.Loop(); i++ {
		if i%len(payloads) == 0 {
			if _, err := c.writeBatch(batch, time.Second); err != nil {
				b.Fatal(err)
			}
		}
	}
}
