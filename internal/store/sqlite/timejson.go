package sqlite

import (
	"encoding/json"
	"fmt"
	"time"
)

// micros is how a time is stored: microseconds since the Unix epoch. The
// zero time.Time is stored as its own (negative) value and comes back zero.
func micros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros is the inverse of micros, in UTC.
func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

// nowUTC reads the store's clock, truncated as stored.
func (s *Store) nowUTC() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// orNow returns t, or now when t is zero.
func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// orEmpty stores a nil slice as an empty one ("[]" rather than "null",
// an empty BLOB rather than NULL).
func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// nonEmpty returns nil for an empty slice: a nil and an empty list are
// stored alike, and read back as nil, as in every backend.
func nonEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// encodeJSON encodes v (a pointer, so that pointer-receiver MarshalJSON
// methods are used) for a TEXT column.
func encodeJSON(column string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", column, err)
	}
	return string(b), nil
}

// decodeJSON decodes a TEXT column into v. "null" leaves v at its zero
// value, so a nil list or set reads back nil.
func decodeJSON(column, text string, v any) error {
	if text == "" || text == "null" {
		return nil
	}
	if err := json.Unmarshal([]byte(text), v); err != nil {
		return fmt.Errorf("decode %s: %w", column, err)
	}
	return nil
}
