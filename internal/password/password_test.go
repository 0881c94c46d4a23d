package password

import (
	"context"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h, err := Hash(ctx, "correct horse", cheap)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash = %q; want a PHC argon2id string with m=64,t=1,p=1", h)
	}
	if ok, err := Verify(ctx, "correct horse", h); !ok || err != nil {
		t.Errorf("Verify(right password) = %v, %v; want true", ok, err)
	}
	for _, wrong := range []string{"", "correct hors", "correct horse ", "Correct horse"} {
		if ok, err := Verify(ctx, wrong, h); ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", wrong, ok, err)
		}
	}
	h2, _ := Hash(ctx, "correct horse", cheap)
	if h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

// The string is the reference implementation's: a hash made elsewhere
// (argon2 CLI, other libraries) verifies here.
func TestVerifyKnownVector(t *testing.T) {
	salt := []byte("somesaltsomesalt")
	key := argon2.IDKey([]byte("password"), salt, 2, 64, 1, 32)
	enc := "$argon2id$v=19$m=64,t=2,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key)
	if ok, err := Verify(context.Background(), "password", enc); !ok || err != nil {
		t.Errorf("Verify = %v, %v; want true", ok, err)
	}
}

func TestMalformed(t *testing.T) {
	for _, s := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=16$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$t=1,m=64,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", // 95 GiB
		"$argon2id$v=19$m=64,t=1,p=1$!!$aGFzaGhhc2hoYXNoaGFzaA",
	} {
		if ok, err := Verify(context.Background(), "x", s); ok || !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) = %v, %v; want false, ErrMalformed", s, ok, err)
		}
		if !NeedsRehash(s, cheap) {
			t.Errorf("NeedsRehash(%q) = false; want true", s)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	h, _ := Hash(context.Background(), "pw", cheap)
	if NeedsRehash(h, cheap) {
		t.Error("NeedsRehash with the same parameters = true")
	}
	if !NeedsRehash(h, Params{Memory: 128, Time: 1, Threads: 1}) || !NeedsRehash(h, Params{}) {
		t.Error("NeedsRehash with other parameters (or the default) = false")
	}
	d, _ := Hash(context.Background(), "pw", Params{})
	if !strings.Contains(d, "$m=19456,t=2,p=1$") || NeedsRehash(d, Default) {
		t.Errorf("zero Params hash = %q; want the default parameters", d)
	}
}

// At most GOMAXPROCS hashes run at once; a waiting one gives up with its
// context.
func TestSemaphore(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for range procs { // take every turn
		sem <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Hash(ctx, "pw", cheap); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hash with every turn taken = %v; want the context's deadline", err)
	}
	for range procs {
		<-sem
	}

	var running, most atomic.Int32
	var wg sync.WaitGroup
	for range 4 * procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = acquire(context.Background())
			r := running.Add(1)
			for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			release()
		}()
	}
	wg.Wait()
	if most.Load() > int32(procs) {
		t.Errorf("%d ran at once; want at most GOMAXPROCS = %d", most.Load(), procs)
	}
}
