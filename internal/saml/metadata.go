package saml

import (
	"encoding/xml"
	"fmt"
	"time"
)

// MetadataValidity is how long published metadata stays valid; SPs that
// fetch it refresh well before.
const MetadataValidity = 48 * time.Hour

// Metadata returns our IdP metadata document: entity ID, the SSO endpoint
// for the HTTP-Redirect and HTTP-POST bindings, the NameID formats we
// produce, and the signing certificates (active first, then any published
// next key). No encryption key is published: flexidp decrypts nothing.
func (i *IdP) Metadata() ([]byte, error) {
	provider, err := i.provider(nil)
	if err != nil {
		return nil, err
	}
	validity := MetadataValidity
	provider.ValidDuration = &validity
	ed := provider.Metadata()
	idp := &ed.IDPSSODescriptors[0]
	keys := idp.KeyDescriptors[:0]
	for _, k := range idp.KeyDescriptors {
		if k.Use != "encryption" {
			keys = append(keys, k)
		}
	}
	idp.KeyDescriptors = keys
	buf, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal metadata: %w", err)
	}
	return append([]byte(xml.Header), buf...), nil
}
