package accounts

import (
	"context"
	"fmt"
	"time"

	"github.com/flexidp/flexidp/internal/keys"
	"github.com/flexidp/flexidp/internal/store"
)

// ListKeys returns the signing keys, with their states.
func (s *Service) ListKeys(ctx context.Context) ([]store.SigningKey, error) {
	return s.st.ListSigningKeys(ctx)
}

// AddKey generates the next signing key: published in the metadata beside
// the active key, not signing yet. commonName names the certificate
// (flexidp's entity ID).
func (s *Service) AddKey(ctx context.Context, actor Actor, sealer *keys.Sealer, commonName string) (store.SigningKey, error) {
	k, err := keys.Generate(sealer, commonName, keys.DefaultBits, s.now())
	if err != nil {
		return store.SigningKey{}, err
	}
	k.State = store.KeyNext
	if err := s.st.CreateSigningKey(ctx, k); err != nil {
		return store.SigningKey{}, fmt.Errorf("store the key: %w", err)
	}
	return k, s.audit(ctx, actor, Change{Action: "key.add", After: map[string]string{"key": k.ID, "state": string(k.State)}})
}

// SetKeyState activates or retires a key. Activating one retires the
// previous active key; the active key cannot be retired. changed is false
// when the key was already in that state.
func (s *Service) SetKeyState(ctx context.Context, actor Actor, id string, state store.KeyState) (changed bool, err error) {
	if state != store.KeyActive && state != store.KeyRetired {
		return false, errorf(Invalid, "A key can be made active or retired, not %q.", state)
	}
	list, err := s.st.ListSigningKeys(ctx)
	if err != nil {
		return false, err
	}
	var found *store.SigningKey
	for i := range list {
		if list[i].ID == id {
			found = &list[i]
		}
	}
	switch {
	case found == nil:
		return false, errorf(NotFound, "There is no signing key %q (see idp keys list).", id)
	case found.State == state:
		return false, nil
	case state == store.KeyRetired && found.State == store.KeyActive:
		return false, errorf(Conflict, "The active key signs every Response and cannot be retired; activate another key first.")
	}
	if err := s.st.SetSigningKeyState(ctx, id, state); err != nil {
		return false, err
	}
	action := map[store.KeyState]string{store.KeyActive: "key.activate", store.KeyRetired: "key.retire"}[state]
	return true, s.audit(ctx, actor, Change{Action: action,
		Before: map[string]string{"key": id, "state": string(found.State)}, After: map[string]string{"key": id, "state": string(state)}})
}

// FlexConsoleSSO is where the identity provider values go in the Twilio
// Console.
const FlexConsoleSSO = "Twilio Console > Flex > Manage > Single sign-on (SSO)"

// KeyActivationSteps are what an administrator does in the Twilio Console
// once a key is made active, the same for idp keys activate and the
// console's Keys page: Flex accepts only Responses signed by the
// certificate pasted there. issuer is flexidp's entity ID.
func KeyActivationSteps(issuer string) []string {
	return []string{
		"Open " + FlexConsoleSSO + ".",
		"Check that Identity Provider Issuer is " + issuer + ".",
		"Replace the X.509 Certificate with the new key's certificate (the whole block, from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----).",
		"Save. Until you do, Flex refuses the sign-ins flexidp now signs with the new key (every replica uses it within IDP_KEY_REFRESH, 30 seconds by default).",
	}
}

// KeyExpires returns when the certificate of k expires; the zero time when
// it does not parse.
func KeyExpires(k store.SigningKey) time.Time {
	c, err := keys.ParseCertificate(k.CertificatePEM)
	if err != nil {
		return time.Time{}
	}
	return c.NotAfter.UTC()
}
