package brokertest_test

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/internal/brokertest"
)

// leafValues lists the values under v that Fill sets (a time.Time is one).
func leafValues(v reflect.Value, path string, out map[string]reflect.Value) {
	switch {
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			leafValues(v.Elem(), path, out)
			return
		}
		out[path] = v
	case v.Kind() == reflect.Struct && v.Type() != reflect.TypeFor[time.Time]():
		for i := range v.NumField() {
			leafValues(v.Field(i), path+"."+v.Type().Field(i).Name, out)
		}
	default:
		out[path] = v
	}
}

func TestFullEventHasNoZeroField(t *testing.T) {
	leaves := map[string]reflect.Value{}
	leafValues(reflect.ValueOf(*brokertest.FullEvent(t)), "Event", leaves)
	seen := map[string]string{}
	for path, v := range leaves {
		if v.IsZero() {
			t.Errorf("%s is zero", path)
		}
		if v.Kind() == reflect.String {
			if other, dup := seen[v.String()]; dup {
				t.Errorf("%s and %s have the same value", path, other)
			}
			seen[v.String()] = path
		}
	}
	// Times carry digits below the millisecond, in UTC.
	if at := leaves["Event.Message.CreatedAt"].Interface().(time.Time); at.Nanosecond()%1e6 == 0 || at.Location() != time.UTC {
		t.Errorf("Message.CreatedAt = %v; want nanoseconds, in UTC", at)
	}
}

func TestSingleFieldEventsSetOneFieldEach(t *testing.T) {
	all := map[string]reflect.Value{}
	leafValues(reflect.ValueOf(*brokertest.FullEvent(t)), "Event", all)
	events := brokertest.SingleFieldEvents(t)
	if len(events) != len(all) {
		t.Errorf("%d single-field events for %d fields", len(events), len(all))
	}
	for name, ev := range events {
		leaves := map[string]reflect.Value{}
		leafValues(reflect.ValueOf(*ev), "Event", leaves)
		for path, v := range leaves {
			if set := !v.IsZero() && v.Kind() != reflect.Pointer; set != (path == name) {
				t.Errorf("%s: %s set = %v", name, path, set)
			}
		}
	}
}

// fakeTB catches Fatalf.
type fakeTB struct {
	testing.TB
	msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = format
	runtime.Goexit()
}

func TestFillFailsOnAKindItDoesNotKnow(t *testing.T) {
	var v struct {
		Name string
		Ch   chan int
	}
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		brokertest.Fill(f, &v)
	}()
	<-done
	if !strings.Contains(f.msg, "does not know how to fill") {
		t.Errorf("Fill on a chan field: %q; want a failure naming the field", f.msg)
	}
}
