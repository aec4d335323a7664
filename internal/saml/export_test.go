package saml

// RespondReference and RespondErrorReference expose the crewjam/saml
// path, the reference the canonical writer is tested against.
var (
	RespondReference      = (*IdP).respondReference
	RespondErrorReference = (*IdP).respondErrorReference
)
