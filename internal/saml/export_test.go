package saml

// RespondReference and RespondErrorReference expose the crewjam/saml
// path, the reference the canonical writer is tested against.
var (
	RespondReference      = (*IdP).respondReference
	RespondErrorReference = (*IdP).respondErrorReference
)

// RaceEnabled is raceEnabled, for the allocation tests of package saml_test.
const RaceEnabled = raceEnabled
