package server

import (
	"testing"
)

// TestResponseDetails: a Response's audit details encode as the map they
// were written as before (same keys, same order, same escaping), so the
// audit record is unchanged.
func TestResponseDetails(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    responseDetails
	}{
		{"typical", responseDetails{ACS: "https://flex.twilio.com/acs?a=1&b=2", AssertionID: "id-1", ResponseID: "id-2", Solicited: true,
			Attributes: []string{"email", "full_name", "roles"}}},
		{"unsolicited, no attributes", responseDetails{ACS: "https://x/acs", AssertionID: "a", ResponseID: "r", Attributes: []string{}}},
		{"nil attributes", responseDetails{}},
		{"characters JSON escapes", responseDetails{ACS: "https://x/<acs>&\"'\u2028\x00é", AssertionID: "\\", ResponseID: "\t\n",
			Attributes: []string{"<b>", "a&b", "\xff"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d
			want := details(map[string]any{"assertion_id": d.AssertionID, "response_id": d.ResponseID,
				"solicited": d.Solicited, "acs": d.ACS, "attributes": d.Attributes})
			if got := details(d); string(got) != string(want) {
				t.Errorf("details %s, want %s", got, want)
			}
		})
	}
}
