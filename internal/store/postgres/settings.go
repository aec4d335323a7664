package postgres

import "context"

// PutSetting implements store.Store.
func (s *Store) PutSetting(ctx context.Context, name, value string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		name, value, s.stamp())
	return wrap("put setting", err)
}

// GetSetting implements store.Store.
func (s *Store) GetSetting(ctx context.Context, name string) (string, error) {
	var v string
	err := s.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	return v, wrap("get setting", err)
}
