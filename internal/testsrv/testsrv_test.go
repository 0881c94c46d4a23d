package testsrv_test

import (
	"fmt"
	"net"
	"testing"

	"github.com/parley-chat/parley/internal/testsrv"
)

// Each server starts, answers on its port, stops, and starts again on the
// same port.
func TestServersStartStopAndRestart(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *testsrv.Server{
		"redis": testsrv.Redis, "nats": testsrv.NATS, "postgres": testsrv.Postgres,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := start(t)
			dial := func() error {
				c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port))
				if err == nil {
					c.Close()
				}
				return err
			}
			if err := dial(); err != nil {
				t.Fatalf("%s not answering: %v", s.URL, err)
			}
			s.Kill()
			if dial() == nil {
				t.Fatalf("%s still answering after Kill", name)
			}
			s.Start()
			if err := dial(); err != nil {
				t.Fatalf("%s not answering after restart: %v", name, err)
			}
			s.Restart()
			if err := dial(); err != nil {
				t.Fatalf("%s not answering after Restart: %v", name, err)
			}
		})
	}
}
