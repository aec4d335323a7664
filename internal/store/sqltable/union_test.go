package sqltable

import (
	"strings"
	"testing"
)

// TestUnion: each branch selects its own part's columns and the others'
// NULLs in the same places; Which reads the part of a row, and Scan gives
// a part's destinations exactly its own columns.
func TestUnion(t *testing.T) {
	u := NewUnion(
		Part{Cols: []string{"a.x", "a.y"}, Nulls: []string{"NULL::text", "NULL::bigint"}, From: "FROM a WHERE a.k = $1"},
		Part{Cols: []string{"b.z"}, Nulls: []string{"NULL::text"}, From: "FROM b", Order: "b.z"},
	)
	for _, want := range []string{
		"SELECT 0, 0, a.x, a.y, NULL::text FROM a WHERE a.k = $1",
		"UNION ALL",
		"SELECT 1, row_number() OVER (ORDER BY b.z), NULL::text, NULL::bigint, b.z FROM b",
		"ORDER BY 1, 2",
	} {
		if !strings.Contains(u.SQL, want) {
			t.Errorf("union SQL lacks %q:\n%s", want, u.SQL)
		}
	}

	rows := [][]any{{int64(0), int64(0), "x1", int64(7), nil}, {int64(1), int64(1), nil, nil, "z1"}}
	skip := func() any { return new(any) }
	for i, row := range rows {
		scan := func(dest ...any) error {
			if len(dest) != len(row) {
				t.Fatalf("row %d scanned into %d destinations, want %d", i, len(dest), len(row))
			}
			for j, d := range dest {
				switch p := d.(type) {
				case *int64:
					*p = row[j].(int64)
				case *string:
					*p = row[j].(string)
				case *any:
					*p = row[j]
				}
			}
			return nil
		}
		part, err := u.Which(scan, skip)
		if err != nil || part != i {
			t.Fatalf("row %d: Which = %d, %v", i, part, err)
		}
		switch part {
		case 0:
			var x string
			var y int64
			if err := u.Scan(scan, 0, skip)(&x, &y); err != nil || x != "x1" || y != 7 {
				t.Errorf("part 0 scanned %q, %d, %v; want x1, 7", x, y, err)
			}
		case 1:
			var z string
			if err := u.Scan(scan, 1, skip)(&z); err != nil || z != "z1" {
				t.Errorf("part 1 scanned %q, %v; want z1", z, err)
			}
		}
	}

	defer func() {
		if recover() == nil {
			t.Error("NewUnion accepted a part with fewer NULLs than columns")
		}
	}()
	NewUnion(Part{Cols: []string{"a", "b"}, Nulls: []string{"NULL"}})
}
