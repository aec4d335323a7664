package accounts_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flexidp/flexidp/internal/accounts"
	"github.com/flexidp/flexidp/internal/importer"
	"github.com/flexidp/flexidp/internal/sp"
	"github.com/flexidp/flexidp/internal/store"
)

// TestCheckImport is the one reading of a users file (the CLI's import
// and the console's Import page): every bad row with its line, field and
// reason, the counts of what would change, nothing written.
func TestCheckImport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addUser(t, "mary@example.com")
	file := "email,full_name,roles,team\n" +
		"mary@example.com,Mary Major,agent,Blue\n" +
		"alex@example.com,Alex,agent,Blue\n" +
		"sam@example.com,Sam,superviser,Red\n" +
		"norole@example.com,No Role,,Red\n"
	c, err := f.svc.CheckImport(ctx, strings.NewReader(file), "", true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Format != importer.CSV || c.Rows != 4 || c.Valid != 3 || c.BadRows() != 1 {
		t.Fatalf("check %+v", c)
	}
	if len(c.Problems) != 1 || c.Problems[0].Line != 4 || c.Problems[0].Field != "roles" || !strings.Contains(c.Problems[0].Reason, "supervisor") {
		t.Fatalf("problems %+v", c.Problems)
	}
	if c.Plan != (store.ImportResult{Created: 2, Updated: 1}) {
		t.Errorf("plan %+v", c.Plan)
	}
	if c.NoRole != 1 || !slices.Equal(c.NoRoleLines, []int{5}) {
		t.Errorf("no role: %d %v", c.NoRole, c.NoRoleLines)
	}
	if len(c.Users) != 3 || c.Users[1].Email != "alex@example.com" {
		t.Errorf("kept users %+v", c.Users)
	}
	if err := c.Ready(); code(err) != accounts.Invalid || !strings.Contains(err.Error(), "nothing was imported") {
		t.Errorf("Ready with a bad row: %v", err)
	}
	if list, _ := f.svc.ListUsers(ctx, store.UserFilter{}); len(list) != 1 {
		t.Errorf("the check wrote: %d users", len(list))
	}

	// Without keep, no users are held; a good file is Ready.
	c, err = f.svc.CheckImport(ctx, strings.NewReader("email,roles\nnew@example.com,agent\n"), importer.CSV, false)
	if err != nil || c.Users != nil || c.Ready() != nil || c.Plan.Created != 1 {
		t.Fatalf("good file: %+v, %v", c, err)
	}
	// A file with no rows is not Ready.
	if c, err := f.svc.CheckImport(ctx, strings.NewReader("email,roles\n"), "", false); err != nil || code(c.Ready()) != accounts.Invalid {
		t.Fatalf("empty file: %+v, %v", c, err)
	}
}

func TestCheckImportRefusals(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.addUser(t, "mary@example.com")
	for _, c := range []struct {
		name, file string
		want       accounts.Code
		says       string
	}{
		{"not a users file", "\x00\x01 this is a picture", accounts.Invalid, "not a users file"},
		{"empty", "", accounts.Invalid, "empty"},
		{"a CSV without email", "name,team\nx,y\n", accounts.Invalid, "email column"},
		{"an ID of another user", "id,email,roles\n" + u.ID + ",other@example.com,agent\n", accounts.Conflict, "Line 2: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.svc.CheckImport(ctx, strings.NewReader(c.file), "", false)
			if code(err) != c.want || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v (%s), want %s saying %q", err, code(err), c.want, c.says)
			}
		})
	}
}

func TestFlexSP(t *testing.T) {
	const conn = "JQ0123456789abcdef0123456789abcdef"
	const sid = "AC0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		name, acs, audience string
		entityID, kind      string
		says                string // an Invalid error saying this
	}{
		{"enhanced", "https://login.flex.us1.twilio.com/login/callback?connection=" + conn, "", "urn:flex:" + conn, sp.FlexEnhanced, ""},
		{"legacy", "https://iam.twilio.com/v1/Accounts/" + sid + "/saml2", "", "https://iam.twilio.com/v1/Accounts/" + sid + "/saml2/metadata", sp.FlexLegacy, ""},
		{"audience given", "https://example.com/acs", "urn:x", "urn:x", "", ""},
		{"empty", " ", "", "", "", "ACS URL is required"},
		{"not flex", "https://example.com/acs", "", "", "", "neither an Enhanced"},
		{"bad connection", "https://login.flex.us1.twilio.com/login/callback?connection=JQ1", "", "", "", "not a Flex SSO connection ID"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, kind, err := accounts.FlexSP("flex", c.acs, c.audience)
			if c.says != "" {
				if code(err) != accounts.Invalid || !strings.Contains(err.Error(), c.says) {
					t.Fatalf("err = %v, want Invalid saying %q", err, c.says)
				}
				return
			}
			if err != nil || p.EntityID != c.entityID || kind != c.kind || p.ACSURLs[0] != c.acs {
				t.Fatalf("FlexSP = %+v, %q, %v", p, kind, err)
			}
		})
	}
	// http is refused when the SP is created, with a sentence.
	f := newFixture(t)
	p, _, err := accounts.FlexSP("flex", "http://login.flex.us1.twilio.com/login/callback?connection="+conn, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateSP(context.Background(), admin, p); code(err) != accounts.Invalid || !strings.Contains(err.Error(), "must use https") {
		t.Fatalf("http ACS: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSPSettingsApply(t *testing.T) {
	p := flexProvider("flex", "JQ1")
	p.DisplayName = "keep me"
	err := accounts.SPSettings{
		Release: ptr("department, channel.*,"), Withhold: ptr("team"), Static: ptr("location=London; channel.chat.capacity=2"),
		DefaultRoles: ptr("agent"), RolesFormat: ptr("multi"), SessionNotOnOrAfter: ptr(8 * time.Hour),
		AssignmentRequired: ptr(true), RequireSignedRequests: ptr(false), SigningCertificatePEM: ptr("  \n"),
	}.Apply(&p)
	if err != nil {
		t.Fatal(err)
	}
	if p.DisplayName != "keep me" || !slices.Equal(p.Policy.Release, []string{"department", "channel.*"}) ||
		!slices.Equal(p.Policy.Withhold, []string{"team"}) || p.Policy.Static["location"].String() != "London" ||
		p.Policy.Static["channel.chat.capacity"].String() != "2" || !slices.Equal(p.Policy.DefaultRoles, []string{"agent"}) ||
		p.Policy.RolesFormat != "multi" || p.SessionNotOnOrAfter != 8*time.Hour || !p.AssignmentRequired ||
		!p.AllowUnsignedRequests || p.SigningCertificatePEM != "" {
		t.Fatalf("applied %+v", p)
	}
	for _, c := range []struct {
		name string
		o    accounts.SPSettings
		says string
	}{
		{"static without =", accounts.SPSettings{Static: ptr("location")}, "NAME=VALUE"},
		{"static of a bad type", accounts.SPSettings{Static: ptr("channel.chat.capacity=many")}, "capacity"},
		{"unknown role", accounts.SPSettings{DefaultRoles: ptr("superviser")}, "supervisor"},
	} {
		t.Run(c.name, func(t *testing.T) {
			q := flexProvider("flex", "JQ1")
			if err := c.o.Apply(&q); code(err) != accounts.Invalid || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want Invalid saying %q", err, c.says)
			}
		})
	}
}

// TestPreviewDraft previews settings being edited: nothing is saved, and
// the preview is that of the draft, not of the stored SP.
func TestPreviewDraft(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addUser(t, "max@example.com")
	stored, err := f.svc.CreateSP(ctx, admin, flexProvider("flex", "JQ1"))
	if err != nil {
		t.Fatal(err)
	}
	draft := stored
	if err := (accounts.SPSettings{Static: ptr("location=Paris"), NameID: ptr("persistent")}).Apply(&draft); err != nil {
		t.Fatal(err)
	}
	recorded := len(f.audit(t, ""))
	pv, err := f.svc.PreviewDraft(ctx, "max@example.com", draft)
	if err != nil {
		t.Fatal(err)
	}
	if released(pv, "location") != "Paris" || pv.Released.NameID == "max@example.com" {
		t.Fatalf("draft preview %+v", pv.Released)
	}
	if got, _ := f.svc.GetSP(ctx, "flex"); len(got.Policy.Static) != 0 || len(f.audit(t, "")) != recorded {
		t.Fatalf("the preview saved or recorded something: %+v", got)
	}
	draft.ACSURLs = []string{"http://example.com/acs"}
	if _, err := f.svc.PreviewDraft(ctx, "max@example.com", draft); code(err) != accounts.Invalid {
		t.Fatalf("invalid draft: %v", err)
	}
	if _, err := f.svc.PreviewDraft(ctx, "nobody@example.com", stored); code(err) != accounts.NotFound {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestAuditPages(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range 7 {
		actor := "alice"
		if i%2 == 1 {
			actor = "Bob@Example.com"
		}
		if err := f.svc.Audit(ctx, store.AuditEvent{Time: t0.Add(time.Duration(i) * time.Minute), Action: "admin.user.update", Actor: actor,
			Email: "u@example.com"}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []int64
	q := accounts.AuditQuery{Limit: 3}
	for pages := 0; ; pages++ {
		page, err := f.svc.AuditPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			seen = append(seen, e.ID)
		}
		if page.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		q.After = page.Next
	}
	if len(seen) != 7 || !slices.IsSortedFunc(seen, func(a, b int64) int { return int(b - a) }) {
		t.Fatalf("paged IDs %v, want 7 newest first", seen)
	}
	page, err := f.svc.AuditPage(ctx, accounts.AuditQuery{Actor: "bob@example.com", Since: t0.Add(2 * time.Minute), Until: t0.Add(5 * time.Minute)})
	if err != nil || len(page.Events) != 1 || page.Events[0].Time != t0.Add(3*time.Minute) {
		t.Fatalf("actor and range: %+v, %v", page, err)
	}
	var exported int
	if err := f.svc.ExportAudit(ctx, accounts.AuditQuery{Actor: "alice", Limit: 1}, func(e store.AuditEvent) error {
		exported++
		return nil
	}); err != nil || exported != 4 {
		t.Fatalf("export: %d events, %v; want 4", exported, err)
	}
	for _, c := range []struct {
		name string
		q    accounts.AuditQuery
	}{
		{"bad cursor", accounts.AuditQuery{After: "x"}},
		{"page too big", accounts.AuditQuery{Limit: accounts.MaxAuditPage + 1}},
		{"range backwards", accounts.AuditQuery{Since: t0, Until: t0}},
		{"long text", accounts.AuditQuery{Actor: strings.Repeat("a", 300)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := f.svc.AuditPage(ctx, c.q); code(err) != accounts.Invalid {
				t.Fatalf("err = %v, want Invalid", err)
			}
		})
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"2026-03-01":           time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		"2026-03-01T08:30":     time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC),
		"2026-03-01T08:30:00Z": time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC),
		"24h":                  now.Add(-24 * time.Hour),
	} {
		if got, err := accounts.ParseWhen(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := accounts.ParseWhen("yesterday", now); code(err) != accounts.Invalid {
		t.Errorf("ParseWhen(yesterday): %v", err)
	}
}

func TestKeyActivationStepsAndExpiry(t *testing.T) {
	steps := accounts.KeyActivationSteps("https://idp.example.com/saml/metadata")
	if len(steps) < 3 || !strings.Contains(steps[0], accounts.FlexConsoleSSO) || !strings.Contains(strings.Join(steps, " "), "https://idp.example.com/saml/metadata") {
		t.Fatalf("steps %q", steps)
	}
	f := newFixture(t)
	k, err := f.svc.AddKey(context.Background(), admin, nil, "https://idp.example.com/saml/metadata")
	if err != nil {
		t.Fatal(err)
	}
	if exp := accounts.KeyExpires(k); !exp.After(f.now.AddDate(1, 0, 0)) {
		t.Errorf("KeyExpires = %v", exp)
	}
	if !accounts.KeyExpires(store.SigningKey{}).IsZero() {
		t.Error("KeyExpires of a key without a certificate is not zero")
	}
}

func TestAssignees(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, b := f.addUser(t, "a@example.com"), f.addUser(t, "b@example.com")
	f.addUser(t, "c@example.com")
	if _, err := f.svc.CreateSP(ctx, admin, flexProvider("flex", "JQ1")); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{a.ID, b.ID} {
		if err := f.svc.Assign(ctx, admin, u, "flex", true); err != nil {
			t.Fatal(err)
		}
	}
	list, more, err := f.svc.Assignees(ctx, "flex")
	var emails []string
	for _, u := range list {
		emails = append(emails, u.Email)
	}
	slices.Sort(emails)
	if err != nil || more || !slices.Equal(emails, []string{"a@example.com", "b@example.com"}) {
		t.Fatalf("Assignees = %v, %v, %v", emails, more, err)
	}
	if _, _, err := f.svc.Assignees(ctx, "nope"); code(err) != accounts.NotFound {
		t.Fatalf("Assignees of an unknown SP: %v", err)
	}
}
