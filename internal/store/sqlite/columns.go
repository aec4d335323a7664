package sqlite

// How values are kept in columns: times as integer microseconds, lists and
// attribute sets as JSON text.

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

// encodeJSON encodes v for a TEXT column. Pass a pointer to a type whose
// MarshalJSON may have a pointer receiver.
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
