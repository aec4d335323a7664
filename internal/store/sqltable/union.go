package sqltable

import (
	"fmt"
	"reflect"
	"strings"
)

// Part is one branch of a Union: the columns it selects (expressions, in
// the order a record's Read scans them), the typed NULLs that stand for
// them in the other branches (Nulls), and the rest of its SELECT ("FROM
// ... WHERE ..."). Order, when set, orders the part's rows.
type Part struct {
	Cols, Nulls []string
	From, Order string
}

// Union is one statement that reads several kinds of record at once (one
// round trip, one statement): a UNION ALL of one SELECT per Part. Each row
// holds its part's number, its order within the part, then the columns of
// every part in turn, NULL but for its own part's. Rows come part by
// part, each part in its Order.
type Union struct {
	SQL  string
	offs []int // offs[i]: the first column of part i
	n    int   // columns per row
}

// NewUnion builds the Union of parts.
func NewUnion(parts ...Part) *Union {
	u := &Union{n: 2}
	for _, p := range parts {
		if len(p.Cols) != len(p.Nulls) {
			panic(fmt.Sprintf("sqltable: a union part has %d columns and %d NULLs", len(p.Cols), len(p.Nulls)))
		}
		u.offs = append(u.offs, u.n)
		u.n += len(p.Cols)
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteString("\nUNION ALL\n")
		}
		order := "0"
		if p.Order != "" {
			order = "row_number() OVER (ORDER BY " + p.Order + ")"
		}
		fmt.Fprintf(&b, "SELECT %d, %s", i, order)
		for j, q := range parts {
			cols := q.Nulls
			if j == i {
				cols = p.Cols
			}
			if len(cols) > 0 {
				b.WriteString(", " + strings.Join(cols, ", "))
			}
		}
		b.WriteString(" " + p.From)
	}
	b.WriteString("\nORDER BY 1, 2")
	u.SQL = b.String()
	return u
}

// Which returns the part of the row scan reads; skip is the backend's
// destination that ignores a column (nil for pgx, a new *any for
// database/sql).
func (u *Union) Which(scan func(dest ...any) error, skip func() any) (int, error) {
	var part int64
	dest := u.skipped(skip)
	dest[0] = &part
	if err := scan(dest...); err != nil {
		return 0, err
	}
	if part < 0 || int(part) >= len(u.offs) {
		return 0, fmt.Errorf("sqltable: a union row of part %d", part)
	}
	return int(part), nil
}

// Scan returns the scan function of part's columns in the row scan reads
// (the backends' drivers scan a row as often as asked): a record's Read,
// or ReadJoined, given it reads its record from that part.
func (u *Union) Scan(scan func(dest ...any) error, part int, skip func() any) func(dest ...any) error {
	return func(dest ...any) error {
		all := u.skipped(skip)
		copy(all[u.offs[part]:], dest)
		return scan(all...)
	}
}

// skipped returns a row's destinations, all one skip destination (what
// is scanned into it is never read).
func (u *Union) skipped(skip func() any) []any {
	all := make([]any, u.n)
	sink := skip()
	for i := range all {
		all[i] = sink
	}
	return all
}

// Nulls returns t's columns as NULLs for the other parts of a Union, each
// cast as typ says (PostgreSQL needs the type, so that the branches
// match; SQLite does not: typ may return "").
func (t *Table[T]) Nulls(typ func(f Field) string) []string {
	var v T
	fs := t.Fields(&v)
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = "NULL" + typ(f)
	}
	return out
}

// ValueKind is the reflect.Kind of a Value field (string, bool, or an
// integer kind), for a backend's casts.
func ValueKind(f Field) reflect.Kind { return reflect.ValueOf(f.Ptr).Elem().Kind() }

// QualifiedCols is Qualified as a list, for a Part's Cols.
func QualifiedCols(alias string, cols []string) []string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = alias + "." + c
	}
	return q
}
