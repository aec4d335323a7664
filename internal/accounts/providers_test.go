package accounts_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/users"
)

func flexProvider(name, conn string) sp.ServiceProvider {
	return sp.ServiceProvider{Name: name, EntityID: "urn:flex:" + conn,
		ACSURLs: []string{"https://login.flex.us1.twilio.com/login/callback?connection=" + conn}}
}

func TestListSPs(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, p := range []sp.ServiceProvider{flexProvider("zeta", "JQ1"), flexProvider("alpha", "JQ2")} {
		if _, err := f.svc.CreateSP(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
	}
	list, err := f.svc.ListSPs(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "zeta" {
		t.Fatalf("ListSPs = %+v, %v", list, err)
	}
}

// TestPreviewRelease is the preview an administrator asks for: the same
// release a sign-in computes, and the refusals a sign-in would meet.
func TestPreviewRelease(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "max@example.com")
	if _, err := f.svc.CreateUser(ctx, admin, accounts.NewUser{User: users.User{Email: "norole@example.com"}, NoPassword: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateSP(ctx, admin, flexProvider("flex", "JQ1")); err != nil {
		t.Fatal(err)
	}
	gated := flexProvider("gated", "JQ2")
	gated.AssignmentRequired = true
	if _, err := f.svc.CreateSP(ctx, admin, gated); err != nil {
		t.Fatal(err)
	}

	recorded := len(f.audit(t, ""))
	pv, err := f.svc.PreviewRelease(ctx, "MAX@example.com", "flex")
	if err != nil {
		t.Fatal(err)
	}
	if pv.User.ID != u.ID || pv.SP.Name != "flex" || pv.Unassigned || pv.Released.NameID != "max@example.com" {
		t.Fatalf("preview %+v", pv)
	}
	if got := released(pv, "roles"); got != "agent" {
		t.Errorf("roles released = %q, want agent", got)
	}

	if pv, err = f.svc.PreviewRelease(ctx, u.ID, "gated"); err != nil || !pv.Unassigned {
		t.Fatalf("unassigned preview: %+v, %v", pv, err)
	}
	if n := len(f.audit(t, "")); n != recorded {
		t.Errorf("previews recorded %d audit events; a preview changes nothing", n-recorded)
	}
	if err := f.svc.Assign(ctx, admin, u.ID, "gated", true); err != nil {
		t.Fatal(err)
	}
	if pv, err = f.svc.PreviewRelease(ctx, u.ID, "gated"); err != nil || pv.Unassigned {
		t.Fatalf("assigned preview: %+v, %v", pv, err)
	}

	for _, tc := range []struct {
		name, user, sp string
		code           accounts.Code
		says           string
	}{
		{"no role", "norole@example.com", "flex", accounts.Invalid, "norole@example.com would be refused at flex"},
		{"unknown user", "nobody@example.com", "flex", accounts.NotFound, "no user"},
		{"unknown SP", "max@example.com", "nope", accounts.NotFound, "no service provider"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.PreviewRelease(ctx, tc.user, tc.sp)
			if code(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v (code %q), want %q saying %q", err, code(err), tc.code, tc.says)
			}
		})
	}
}

func released(pv accounts.Preview, name string) string {
	for _, a := range pv.Released.Attributes {
		if a.Name == name {
			return strings.Join(a.Values, ",")
		}
	}
	return ""
}

// TestMayEnterAndApps: an SP that requires assignment lets in only the
// users assigned to it, and lists itself only for them.
func TestMayEnterAndApps(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "sol@example.com")
	for _, p := range []sp.ServiceProvider{
		{Name: "open", EntityID: "urn:test:open", ACSURLs: []string{"https://open.example.com/acs"}},
		{Name: "closed", EntityID: "urn:test:closed", ACSURLs: []string{"https://closed.example.com/acs"}, AssignmentRequired: true},
	} {
		if _, err := f.svc.CreateSP(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
	}
	names := func() []string {
		apps, err := f.svc.Apps(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range apps {
			out = append(out, p.Name)
		}
		return out
	}
	closed, _ := f.svc.GetSP(ctx, "closed")
	if may, err := f.svc.MayEnter(ctx, u, closed); may || err != nil || !slices.Equal(names(), []string{"open"}) {
		t.Fatalf("unassigned: may %v (%v), apps %v", may, err, names())
	}
	if err := f.svc.Assign(ctx, admin, u.Email, "closed", true); err != nil {
		t.Fatal(err)
	}
	if may, err := f.svc.MayEnter(ctx, u, closed); !may || err != nil || !slices.Equal(names(), []string{"closed", "open"}) {
		t.Fatalf("assigned: may %v (%v), apps %v", may, err, names())
	}
}
