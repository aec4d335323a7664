package sqlite

import "context"

// PutSetting stores value under name, replacing any previous value.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	_, err := s.exec(ctx, `INSERT INTO settings (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, micros(s.nowUTC()))
	return wrap("put setting", err)
}

// GetSetting returns the value stored under name.
func (s *Store) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	return v, wrap("get setting", err)
}
