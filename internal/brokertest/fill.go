package brokertest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley"
)

var timeType = reflect.TypeFor[time.Time]()

// Fill sets every field reachable from ptr (a pointer to a struct) to a
// non-zero value that no other field of the same fill has: strings with
// HTML and non-ASCII characters, numbers, true, lists and maps of two
// entries, times in UTC with nanoseconds; pointers are followed (and
// allocated). It walks the types by reflection, so a field added to
// parley.Event, Message, Announcement or NodePresence is filled too: a
// round trip that drops it fails reflect.DeepEqual. A field of a kind it
// does not know, or an unexported one, fails the test with its path.
func Fill(tb testing.TB, ptr any) {
	tb.Helper()
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		tb.Fatalf("brokertest.Fill: want a non-nil pointer, got %T", ptr)
	}
	f := &filler{tb: tb}
	f.fill(v.Elem(), v.Elem().Type().Name(), 0)
}

// FullEvent returns an Event with every field set by Fill (its Kind is
// then not one parley knows; brokers carry it all the same).
func FullEvent(tb testing.TB) *parley.Event {
	tb.Helper()
	ev := &parley.Event{}
	Fill(tb, ev)
	return ev
}

// SingleFieldEvents returns, for each field of Event that holds a value
// (following pointers into Message, Announcement, NodePresence …; a
// time.Time counts as one value), an Event in which only that field and
// the pointers leading to it are set, keyed by the field's path such as
// "Event.Message.CreatedAt". They catch an encoding that gets a field
// right only when its neighbours are set.
func SingleFieldEvents(tb testing.TB) map[string]*parley.Event {
	tb.Helper()
	var paths []fieldPath
	leaves(tb, reflect.TypeFor[parley.Event](), nil, "Event", &paths, 0)
	out := make(map[string]*parley.Event, len(paths))
	for _, p := range paths {
		ev := &parley.Event{}
		v := reflect.ValueOf(ev).Elem()
		for k, i := range p.index {
			v = v.Field(i)
			if k == len(p.index)-1 {
				break
			}
			for v.Kind() == reflect.Pointer {
				if v.IsNil() {
					v.Set(reflect.New(v.Type().Elem()))
				}
				v = v.Elem()
			}
		}
		(&filler{tb: tb}).fill(v, p.name, 0)
		out[p.name] = ev
	}
	return out
}

type fieldPath struct {
	index []int
	name  string
}

const maxDepth = 10 // a type that contains itself would never end

// leaves lists the fields under t that hold a value.
func leaves(tb testing.TB, t reflect.Type, index []int, name string, out *[]fieldPath, depth int) {
	if depth > maxDepth {
		tb.Fatalf("brokertest: %s is nested deeper than %d levels", name, maxDepth)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == timeType {
		*out = append(*out, fieldPath{index: index, name: name})
		return
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		leaves(tb, sf.Type, append(index[:len(index):len(index)], i), name+"."+sf.Name, out, depth+1)
	}
}

type filler struct {
	tb testing.TB
	n  int
}

// next returns a number no earlier call of this filler returned.
func (f *filler) next() int {
	f.n++
	return f.n
}

func (f *filler) fill(v reflect.Value, path string, depth int) {
	f.tb.Helper()
	if depth > maxDepth {
		f.tb.Fatalf("brokertest.Fill: %s is nested deeper than %d levels", path, maxDepth)
	}
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), path, depth+1)
	case reflect.Struct:
		if v.Type() == timeType {
			// Distinct, in UTC, with every digit down to the nanosecond.
			n := time.Duration(f.next())
			t := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Add(n*time.Hour + n*time.Millisecond + n*1234*time.Nanosecond)
			v.Set(reflect.ValueOf(t))
			return
		}
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				f.tb.Fatalf("brokertest.Fill: %s.%s is unexported; Fill cannot set it", path, sf.Name)
			}
			f.fill(v.Field(i), path+"."+sf.Name, depth+1)
		}
	case reflect.String:
		name := path[strings.LastIndexByte(path, '.')+1:]
		v.SetString(fmt.Sprintf("%s-%d <b>&amp;</b> \"é\" 中文 🙂", strings.ToLower(name), f.next()))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := int64(f.next())
		if !v.OverflowInt(n * 1_000_003) {
			n *= 1_000_003 // large enough to catch a narrowing on the wire
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := uint64(f.next())
		if !v.OverflowUint(n * 1_000_003) {
			n *= 1_000_003
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(f.next()) + 0.5)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			f.fill(s.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			f.fill(v.Index(i), fmt.Sprintf("%s[%d]", path, i), depth+1)
		}
	case reflect.Map:
		m := reflect.MakeMapWithSize(v.Type(), 2)
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			f.fill(k, fmt.Sprintf("%s.key%d", path, i), depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			f.fill(e, fmt.Sprintf("%s[key%d]", path, i), depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	default:
		f.tb.Fatalf("brokertest.Fill: %s is a %s, which Fill does not know how to fill: teach it (internal/brokertest/fill.go) and the wire (internal/eventwire)", path, v.Type())
	}
}
