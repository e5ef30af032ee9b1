//go:build quirefaults

package cassandra

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/mail"
)

// TestFaultErrorKindsObserved: injected faults reach the Observer as the
// driver's errors would, by kind and with the keyspace of the statement:
// no response is a timeout, a lost reply to a read a read timeout, a
// refusal "unavailable".
func TestFaultErrorKindsObserved(t *testing.T) {
	obs := &failures{}
	b := openTest(t, func(o *Options) { o.Observer = obs; o.ReadFallback = "" })
	ctx := context.Background()
	meta := b.opts.Meta.Name
	for _, c := range []struct {
		fault Fault
		kind  string
	}{{NoResponse, "timeout"}, {LostReply, "read_timeout"}, {Unavailable, "unavailable"}} {
		b.SetFaults(Faults{Inject: func(s Statement) Fault {
			if s.Read() && strings.Contains(s.CQL, meta+".users ") {
				return c.fault
			}
			return Pass
		}})
		if _, err := b.User(ctx, "nobody@example.org"); !errors.Is(err, mail.ErrUnavailable) {
			t.Fatalf("%s: %v, want unavailable", c.fault, err)
		}
		if got, want := obs.take(), [][2]string{{meta, c.kind}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: failures observed %v, want %v", c.fault, got, want)
		}
	}
}
