package bench

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/gobwas/ws"
)

// frameReader reads the server's WebSocket frames (unmasked) from a
// buffered reader without allocating: a frame that fits in the buffer is
// handed out as a slice of it, valid until the next call. Only larger or
// fragmented messages are copied. It is the load generator's hot path: at a
// million deliveries a second it must cost well under a microsecond each.
type frameReader struct {
	r     *bufio.Reader
	limit int    // largest message accepted
	frag  []byte // a fragmented message being put together
	fop   ws.OpCode
	prev  int // bytes of the previous frame, discarded on the next call
}

var errFrameTooLarge = errors.New("frame larger than the limit")

// next returns the next complete message: its opcode and payload.
func (f *frameReader) next() (ws.OpCode, []byte, error) {
	for {
		if f.prev > 0 {
			if _, err := f.r.Discard(f.prev); err != nil {
				return 0, nil, err
			}
			f.prev = 0
		}
		h, err := f.r.Peek(2)
		if err != nil {
			return 0, nil, err
		}
		fin, op := h[0]&0x80 != 0, ws.OpCode(h[0]&0x0f)
		if h[1]&0x80 != 0 {
			return 0, nil, errors.New("server frame is masked")
		}
		hl, n := 2, int64(h[1]&0x7f)
		switch n {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if hl > 2 {
			if h, err = f.r.Peek(hl); err != nil {
				return 0, nil, err
			}
			if hl == 4 {
				n = int64(binary.BigEndian.Uint16(h[2:4]))
			} else {
				n = int64(binary.BigEndian.Uint64(h[2:10]))
			}
		}
		if n > int64(f.limit) || int64(len(f.frag))+n > int64(f.limit) {
			return 0, nil, fmt.Errorf("%w: %d bytes", errFrameTooLarge, n)
		}
		var payload []byte
		if total := hl + int(n); total <= f.r.Size() {
			b, err := f.r.Peek(total)
			if err != nil {
				return 0, nil, err
			}
			payload, f.prev = b[hl:], total
		} else {
			if _, err := f.r.Discard(hl); err != nil {
				return 0, nil, err
			}
			payload = make([]byte, n)
			if _, err := io.ReadFull(f.r, payload); err != nil {
				return 0, nil, err
			}
		}
		switch {
		case op.IsControl():
			return op, payload, nil
		case !fin: // the first or a middle fragment
			if op != ws.OpContinuation {
				f.fop = op
			}
			f.frag = append(f.frag, payload...)
		case op == ws.OpContinuation: // the last fragment
			msg := append(f.frag, payload...)
			f.frag = nil
			return f.fop, msg, nil
		default:
			return op, payload, nil
		}
	}
}

// appendClientFrame appends p as one masked client frame with opcode op
// (RFC 6455 §5.2–5.3), header, masking key and payload together, so that
// the frame goes out in one write: a client that wrote the header and the
// payload separately (as wsutil.WriteClientMessage does) would cost itself
// a system call and the server a wake-up and a read per message, which no
// browser does.
func appendClientFrame(dst []byte, op ws.OpCode, p []byte, mask [4]byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch n := len(p); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, p...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}
