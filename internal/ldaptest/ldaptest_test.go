package ldaptest

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// TestStart: the server answers on ldaps:// with the test CA, refuses an
// anonymous search, and lets the service account read the tree.
func TestStart(t *testing.T) {
	s := Start(t)
	c := s.Dial(t)
	defer c.Close()
	search := ldap.NewSearchRequest(UsersDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(sAMAccountName=alice)", []string{"mail"}, nil)
	if res, err := c.Search(search); err == nil && len(res.Entries) > 0 {
		t.Fatal("an anonymous search found alice")
	}
	if err := c.Bind(ServiceDN, ServicePW); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(search)
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("mail") != "alice@acme.test" {
		t.Fatalf("search as the service account: %v, %+v", err, res)
	}
}
