package sqltable

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/store"
)

// TestValuesRoundTrip: a Value field is written as its underlying value
// and read back into its own type (a KeyState, a Duration), and a record
// Check refuses is not written.
func TestValuesRoundTrip(t *testing.T) {
	k := store.SigningKey{ID: "k1", PrivateKey: []byte("p"), State: store.KeyNext, CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("X", 3600))}
	enc := func(_ string, f Field) (any, error) { return f.Ptr, nil }
	args, err := SigningKeys.Args(&k, enc)
	if err != nil {
		t.Fatal(err)
	}
	if args[0] != "k1" || args[3] != "next" {
		t.Fatalf("args %v: want the ID and the state as plain strings", args)
	}
	got, err := SigningKeys.Read(func(dest ...any) error {
		*dest[0].(*string) = "k1"
		*dest[3].(*string) = "retired"
		*dest[4].(*time.Time) = k.CreatedAt
		return nil
	}, func(_ string, f Field) (any, func() error) { return f.Ptr, nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "k1" || got.State != store.KeyRetired || got.CreatedAt.Location() != time.UTC || got.PrivateKey != nil {
		t.Fatalf("read %+v", got)
	}
	k.State = "burnt"
	if _, err := SigningKeys.Args(&k, enc); err == nil || !strings.Contains(err.Error(), "invalid signing key state") {
		t.Fatalf("a bad state was written: %v", err)
	}
}

// TestReadNamesTheRecordOnDecodeFailure: a column that does not decode is
// an error naming the record, not a silently empty field.
func TestReadNamesTheRecordOnDecodeFailure(t *testing.T) {
	_, err := Users.Read(func(dest ...any) error {
		*dest[0].(*string) = "u1"
		return nil
	}, func(col string, f Field) (any, func() error) {
		if f.Kind == JSON {
			return new(string), func() error { return errors.New("decode " + col + ": bad JSON") }
		}
		return f.Ptr, nil
	})
	if err == nil || !strings.Contains(err.Error(), `user "u1"`) || !strings.Contains(err.Error(), "attributes") {
		t.Fatalf("err = %v", err)
	}
}

func TestPlainRefusesOtherKinds(t *testing.T) {
	var l []string
	if _, err := Plain(&l); err == nil {
		t.Fatal("a list was taken as a Value field")
	}
}
