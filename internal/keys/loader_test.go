package keys_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/sqlite"
	"github.com/flexidp/flexidp/internal/store/sqlite/sqlitetest"
)

func TestSameKeys(t *testing.T) {
	c1, c2 := &x509.Certificate{Raw: []byte{1}}, &x509.Certificate{Raw: []byte{2}}
	ks := func(id string, published ...*x509.Certificate) *saml.KeySet {
		return &saml.KeySet{ID: id, Published: published}
	}
	for _, tc := range []struct {
		name string
		a, b *saml.KeySet
		want bool
	}{
		{"none loaded yet", nil, ks("k1"), false},
		{"unchanged", ks("k1", c1), ks("k1", c1), true},
		{"activated", ks("k1"), ks("k2"), false},
		{"next key added", ks("k1"), ks("k1", c1), false},
		// One next key retired and another added between two reloads.
		{"next key replaced", ks("k1", c1), ks("k1", c2), false},
	} {
		if got := keys.SameKeys(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: SameKeys = %v, want %v", tc.name, got, tc.want)
		}
	}
}

type holder struct {
	ks   *saml.KeySet
	sets int
}

func (h *holder) Keys() *saml.KeySet     { return h.ks }
func (h *holder) SetKeys(k *saml.KeySet) { h.ks = k; h.sets++ }

// newStore opens a migrated embedded store in a temp dir.
func newStore(t *testing.T) *sqlite.Store {
	t.Helper()
	return sqlitetest.New(t)
}

// TestLoaderFollowsRotation: the first load generates a key; a reload
// picks up a key activated elsewhere (the CLI, another replica), and only
// a real change reaches the holder.
func TestLoaderFollowsRotation(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	var logb bytes.Buffer
	h := &holder{}
	l, err := keys.Load(ctx, keys.LoaderConfig{Store: st, Sealer: newSealer(t, secret), CommonName: entityID,
		Log: slog.New(slog.NewTextHandler(&logb, nil)), Now: func() time.Time { return now }}, h)
	if err != nil {
		t.Fatal(err)
	}
	if h.ks == nil || h.sets != 1 || !l.FromStore() || !strings.Contains(logb.String(), "signing key generated") {
		t.Fatalf("after Load: keys %v, %d sets, log %s", h.ks, h.sets, logb.String())
	}
	first := h.ks.ID
	if err := l.Reload(ctx); err != nil || h.sets != 1 {
		t.Fatalf("a reload without a change: %v, %d sets", err, h.sets)
	}
	next := generate(t, "next", secret)
	next.State = store.KeyNext
	if err := st.CreateSigningKey(ctx, next); err != nil {
		t.Fatal(err)
	}
	if err := st.SetSigningKeyState(ctx, next.ID, store.KeyActive); err != nil {
		t.Fatal(err)
	}
	if err := l.Reload(ctx); err != nil || h.ks.ID != next.ID || h.ks.ID == first || h.sets != 2 {
		t.Fatalf("after rotation: %v, key %s (first %s), %d sets", err, h.ks.ID, first, h.sets)
	}
}

func TestLoadRefusesHalfAFilePair(t *testing.T) {
	for _, cfg := range []keys.LoaderConfig{{KeyFile: "k.pem"}, {CertFile: "c.pem"}} {
		if err := cfg.Check(); err == nil || !strings.Contains(err.Error(), "must be set together") {
			t.Errorf("Check(%+v) = %v", cfg, err)
		}
		_, err := keys.Load(context.Background(), cfg, &holder{})
		if err == nil || !strings.Contains(err.Error(), "must be set together") {
			t.Errorf("Load(%+v) = %v", cfg, err)
		}
	}
	if err := (keys.LoaderConfig{KeyFile: "k.pem", CertFile: "c.pem"}).Check(); err != nil {
		t.Errorf("a whole pair: %v", err)
	}
}

// TestCurrent: the first call generates the key, later calls (and a
// server's Load) sign with the same one.
func TestCurrent(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	cfg := keys.LoaderConfig{Store: st, Sealer: newSealer(t, secret), CommonName: entityID, Now: func() time.Time { return now }}
	first, err := keys.Current(ctx, cfg)
	if err != nil || first == nil || first.Certificate == nil {
		t.Fatalf("first: %v, %v", first, err)
	}
	again, err := keys.Current(ctx, cfg)
	if err != nil || again.ID != first.ID {
		t.Fatalf("again: %v, %v (first %s)", again, err, first.ID)
	}
	h := &holder{}
	if _, err := keys.Load(ctx, cfg, h); err != nil || h.ks.ID != first.ID {
		t.Fatalf("Load after Current: %v, %v", h.ks, err)
	}
	if list, err := st.ListSigningKeys(ctx); err != nil || len(list) != 1 {
		t.Fatalf("%d keys stored, %v; want 1", len(list), err)
	}
}
