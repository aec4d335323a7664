package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/flexidp/flexidp/internal/saml"
	"github.com/flexidp/flexidp/internal/store"
)

// Holder is what signs with the keys: saml.IdP.
type Holder interface {
	Keys() *saml.KeySet
	SetKeys(*saml.KeySet)
}

// LoaderConfig says where the signing keys come from.
type LoaderConfig struct {
	Store  store.Store
	Sealer *Sealer
	// CommonName names the certificate of a generated key (the entity ID).
	CommonName string
	// KeyFile and CertFile, when both set, are the key and certificate to
	// sign with, instead of the keys in the store; they are never reloaded.
	KeyFile, CertFile string
	Log               *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Check reports a configuration Load would refuse, so that a server can
// refuse it before it opens its store.
func (cfg LoaderConfig) Check() error {
	if (cfg.KeyFile == "") != (cfg.CertFile == "") {
		return errors.New("IDP_SIGNING_KEY_FILE and IDP_SIGNING_CERT_FILE must be set together")
	}
	return nil
}

// Loader loads the signing keys into a Holder and reloads them, so that a
// rotation made by the CLI or on another replica reaches every replica.
type Loader struct {
	cfg    LoaderConfig
	holder Holder
}

// Load loads the keys into h: from the files, or else from the store,
// generating the first key there when there is none (two replicas racing
// to generate it agree on one).
func Load(ctx context.Context, cfg LoaderConfig, h Holder) (*Loader, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	l := &Loader{cfg: cfg, holder: h}
	if cfg.KeyFile != "" {
		ks, err := FromFiles(cfg.KeyFile, cfg.CertFile)
		if err != nil {
			return nil, err
		}
		h.SetKeys(ks)
		cfg.Log.Info("signing key loaded from file", "key", ks.ID, "not_after", ks.Certificate.NotAfter)
		return l, nil
	}
	k, created, err := Ensure(ctx, cfg.Store, cfg.Sealer, cfg.CommonName, DefaultBits, cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if created {
		cfg.Log.Info("signing key generated", "key", k.ID, "encrypted_at_rest", cfg.Sealer.Encrypts())
	}
	if cfg.Sealer.Encrypts() && !IsSealed(k.PrivateKey) {
		cfg.Log.Warn("the active signing key was stored before IDP_KEY_ENCRYPTION_KEY was set and is not encrypted; rotate it (idp keys add, idp keys activate) to store an encrypted one", "key", k.ID)
	}
	if err := l.Reload(ctx); err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	return l, nil
}

// FromStore reports whether the keys come from the store (and so may
// change and need reloading).
func (l *Loader) FromStore() bool { return l.cfg.KeyFile == "" }

// Reload loads the keys from the store again and hands them to the holder
// when they changed (logging the change). Keys from files are not
// reloaded.
func (l *Loader) Reload(ctx context.Context) error {
	if !l.FromStore() {
		return nil
	}
	ks, err := KeySet(ctx, l.cfg.Store, l.cfg.Sealer)
	if err != nil {
		return err
	}
	if !SameKeys(l.holder.Keys(), ks) {
		l.holder.SetKeys(ks)
		l.cfg.Log.Info("signing key loaded", "key", ks.ID, "not_after", ks.Certificate.NotAfter, "published_next", len(ks.Published))
	}
	return nil
}

// SameKeys reports whether b signs with the same key and publishes the
// same certificates as a, so that a reload changes and logs only real
// changes.
func SameKeys(a, b *saml.KeySet) bool {
	if a == nil || b == nil || a.ID != b.ID || len(a.Published) != len(b.Published) {
		return false
	}
	for i := range a.Published {
		if !a.Published[i].Equal(b.Published[i]) {
			return false
		}
	}
	return true
}

// Current loads the keys once, as Load does (generating the first key
// when the store has none), for a command that shows them: the Twilio
// Console values, the development banner.
func Current(ctx context.Context, cfg LoaderConfig) (*saml.KeySet, error) {
	var h keySet
	if _, err := Load(ctx, cfg, &h); err != nil {
		return nil, err
	}
	return h.ks, nil
}

// keySet is a Holder that only keeps the keys.
type keySet struct{ ks *saml.KeySet }

func (h *keySet) Keys() *saml.KeySet      { return h.ks }
func (h *keySet) SetKeys(ks *saml.KeySet) { h.ks = ks }
