package server_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/users"
)

// storeCounts counts what the console's pages could change: users, service
// providers, assignments, signing keys (by state) and administrative
// audit events.
func (h *testIdP) storeCounts(t *testing.T) string {
	t.Helper()
	var parts []string
	for _, q := range []string{
		"SELECT count(*) FROM users", "SELECT count(*) FROM users WHERE disabled",
		"SELECT count(*) FROM service_providers", "SELECT count(*) FROM sp_assignments",
		"SELECT count(*) FROM signing_keys", "SELECT count(*) FROM signing_keys WHERE state = 'active'",
		"SELECT count(*) FROM signing_keys WHERE state = 'next'",
		"SELECT count(*) FROM audit_events WHERE action LIKE 'admin.%'",
	} {
		parts = append(parts, fmt.Sprint(h.count(t, q)))
	}
	return strings.Join(parts, " ")
}

// upload posts a users file to the Import page, as the browser's form.
func (b *consoleBrowser) upload(name string, content []byte, format string) (int, string) {
	b.t.Helper()
	status, body, _ := b.uploadAt(name, content, format)
	return status, body
}

// uploadAt is upload, with the address of the page it ends on.
func (b *consoleBrowser) uploadAt(name string, content []byte, format string) (int, string, string) {
	b.t.Helper()
	return b.postFile("/admin/import", "file", name, content, url.Values{"format": {format}})
}

// postFile posts a form with a file (field, named name; none when name is
// "") and the fields of extra to path, as a browser's upload form of the
// console; it returns the status, the page and where it ends.
func (b *consoleBrowser) postFile(path, field, name string, content []byte, extra url.Values) (int, string, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", b.csrf())
	for k, vs := range extra {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if name != "" {
		fw, _ := mw.CreateFormFile(field, name)
		_, _ = fw.Write(content)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", b.base)
	resp, err := b.C.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(page), resp.Request.URL.Path
}

var applyRE = regexp.MustCompile(`action="(/admin/import/[^"/]+/apply)"`)

// TestConsoleRefusesManagerOnKeysAndSPs: a manager sees the 403 page on
// the Keys and Service providers pages and every form of them, and
// nothing changes in the store.
func TestConsoleRefusesManagerOnKeysAndSPs(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "manager@example.com", users.ConsoleManager)
	b := h.consoleSignIn(t, "manager@example.com", nil)
	keyID := activeKey(t, h)
	before := h.storeCounts(t)
	for _, path := range []string{"/admin/keys", "/admin/keys/" + keyID, "/admin/sps", "/admin/sps/flex", "/admin/sps/flex/remove"} {
		status, body := b.get(path)
		samltest.WantStatus(t, "manager GET "+path, status, http.StatusForbidden, body)
		samltest.MustContain(t, body, "Your console role does not allow this. Nothing was changed.")
	}
	csrf := b.csrf()
	for path, form := range map[string]url.Values{
		"/admin/keys":                        {},
		"/admin/keys/" + keyID + "/retire":   {},
		"/admin/keys/" + keyID + "/activate": {},
		"/admin/sps":                         {"acs": {"https://login.flex.us1.twilio.com/login/callback?connection=JQ0123456789abcdef0123456789abcdef"}, "name": {"other"}},
		"/admin/sps/flex":                    {"display_name": {"Changed"}, "action": {"save"}},
		"/admin/sps/flex/assign":             {"user": {"agent@example.com"}},
		"/admin/sps/flex/remove":             {"confirm": {"flex"}},
	} {
		form.Set("csrf", csrf)
		status, body := b.post(path, form)
		samltest.WantStatus(t, "manager POST "+path, status, http.StatusForbidden, body)
		samltest.MustContain(t, body, "Nothing was changed.")
	}
	if after := h.storeCounts(t); after != before {
		t.Fatalf("the manager's refused requests changed the store: %s, was %s", after, before)
	}
	// Not in the manager's navigation either.
	_, home := b.get("/admin")
	for _, p := range []string{`href="/admin/keys"`, `href="/admin/sps"`} {
		if strings.Contains(home, p) {
			t.Errorf("the manager's navigation links to %s", p)
		}
	}
	samltest.MustContain(t, home, `href="/admin/import"`, `href="/admin/audit"`)
}

// activeKey returns the ID of the IdP's active signing key.
func activeKey(t *testing.T, h *testIdP) string {
	t.Helper()
	list, err := h.Accounts.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list {
		if k.State == store.KeyActive {
			return k.ID
		}
	}
	t.Fatal("no active key")
	return ""
}

// TestConsoleViewerChangesNothing: every form of the Import, Service
// providers and Keys pages is refused to a viewer (403), who still reads
// the audit log; nothing changes in the store.
func TestConsoleViewerChangesNothing(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "viewer@example.com", users.ConsoleViewer)
	b := h.consoleSignIn(t, "viewer@example.com", nil)
	keyID := activeKey(t, h)
	before := h.storeCounts(t)
	status, body := b.upload("users.csv", []byte("email,roles\nnew@example.com,agent\n"), "")
	samltest.WantStatus(t, "viewer upload", status, http.StatusForbidden, body)
	csrf := b.csrf()
	for _, path := range []string{"/admin/import", "/admin/import/x/apply", "/admin/sps", "/admin/sps/flex", "/admin/sps/flex/assign",
		"/admin/sps/flex/remove", "/admin/keys", "/admin/keys/" + keyID + "/activate", "/admin/keys/" + keyID + "/retire"} {
		status, body := b.post(path, url.Values{"csrf": {csrf}, "confirm": {"flex"}, "user": {"agent@example.com"}, "action": {"save"},
			"acs": {"https://login.flex.us1.twilio.com/login/callback?connection=JQ0123456789abcdef0123456789abcdef"}})
		samltest.WantStatus(t, "viewer POST "+path, status, http.StatusForbidden, body)
	}
	for _, path := range []string{"/admin/import", "/admin/sps", "/admin/keys"} {
		status, body := b.get(path)
		samltest.WantStatus(t, "viewer GET "+path, status, http.StatusForbidden, body)
	}
	if after := h.storeCounts(t); after != before {
		t.Fatalf("the viewer's refused requests changed the store: %s, was %s", after, before)
	}
	status, body = b.get("/admin/audit")
	samltest.WantStatus(t, "viewer reads the audit log", status, http.StatusOK, body)
	samltest.MustContain(t, body, `id="audit-events"`)
}

// TestConsoleImport: a file with one bad row shows the row's line, field
// and reason and writes nothing, even when its apply is posted anyway; a
// good file is applied, recorded with the console user as actor.
func TestConsoleImport(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "manager@example.com", users.ConsoleManager)
	b := h.consoleSignIn(t, "manager@example.com", nil)
	status, body := b.get("/admin/import")
	samltest.WantStatus(t, "import page", status, http.StatusOK, body)
	samltest.MustContain(t, body, "Files up to 32 MiB", `enctype="multipart/form-data"`)

	before := h.storeCounts(t)
	bad := "email,full_name,roles,team\nnew1@example.com,New One,agent,Blue\nnew2@example.com,New Two,superviser,Blue\n"
	status, body, at := b.uploadAt("bad.csv", []byte(bad), "")
	samltest.WantStatus(t, "dry run of a file with a bad row", status, http.StatusOK, body)
	samltest.MustContain(t, body, `id="import-problems"`, "<td>3</td><td>roles</td>", "did you mean", "nothing was imported",
		"1 would be created")
	m := applyRE.FindStringSubmatch(body)
	if m != nil {
		t.Fatalf("the dry run of a bad file offers to apply it:\n%s", body)
	}
	// Post the apply anyway: refused, nothing written.
	if !strings.HasPrefix(at, "/admin/import/") {
		t.Fatalf("the dry run is at %s", at)
	}
	status, body = b.post(at+"/apply", url.Values{"csrf": {b.csrf()}})
	samltest.WantStatus(t, "apply of a bad file", status, http.StatusBadRequest, body)
	if after := h.storeCounts(t); after != before {
		t.Fatalf("a file with a bad row changed the store: %s, was %s", after, before)
	}

	good := "email,full_name,roles,team\nnew1@example.com,New One,agent,Blue\nnew2@example.com,New Two,supervisor,Blue\n"
	status, body = b.upload("good.csv", []byte(good), "csv")
	samltest.WantStatus(t, "dry run of a good file", status, http.StatusOK, body)
	samltest.MustContain(t, body, "2 would be created", "Nothing was written")
	if after := h.storeCounts(t); after != before {
		t.Fatalf("the dry run changed the store: %s, was %s", after, before)
	}
	m = applyRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no apply form on the dry run of a good file:\n%s", body)
	}
	status, body = b.submit(body, m[1], nil)
	samltest.WantStatus(t, "apply", status, http.StatusOK, body)
	for i := 0; strings.Contains(body, `id="import-progress"`) && i < 30; i++ {
		_, body = b.get(strings.TrimSuffix(m[1], "/apply")) // waits up to 2 s for the end
	}
	samltest.MustContain(t, body, `id="import-done"`, "2 created, 0 updated, 0 unchanged")
	if u := h.user(t, "new2@example.com"); u.Team != "Blue" || len(u.Roles) != 1 || u.Roles[0] != "supervisor" {
		t.Errorf("imported user %+v", u)
	}
	ev, err := h.Store.ListAudit(context.Background(), store.AuditFilter{Action: "admin.user.import"})
	if err != nil || len(ev) != 1 || ev[0].Actor != "manager@example.com" {
		t.Fatalf("import audit events %+v, %v", ev, err)
	}
	// Applying it again (a form posted twice) imports nothing more.
	status, body = b.submit(body, m[1], url.Values{"csrf": {b.csrf()}})
	samltest.WantStatus(t, "apply twice", status, http.StatusOK, body)
	if ev, _ := h.Store.ListAudit(context.Background(), store.AuditFilter{Action: "admin.user.import"}); len(ev) != 1 {
		t.Errorf("the second apply imported again: %d events", len(ev))
	}
}

// TestConsoleImportRefusesBadUploads: what is not a users file gets a 4xx
// with a sentence, and nothing is written.
func TestConsoleImportRefusesBadUploads(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	b := h.consoleSignIn(t, "owner@example.com", nil)
	before := h.storeCounts(t)
	for _, c := range []struct {
		name, file, format string
		content            []byte
		status             int
		says               string
	}{
		{"a picture", "logo.png", "", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), http.StatusBadRequest, "This is not a users file flexidp reads"},
		{"an empty file", "empty.csv", "", nil, http.StatusBadRequest, "the file is empty"},
		{"CSV without email", "x.csv", "", []byte("name,team\nx,y\n"), http.StatusBadRequest, "email column"},
		{"no file", "", "", nil, http.StatusBadRequest, "Choose a users file to upload."},
		{"unknown format", "x.csv", "xml", []byte("email\n"), http.StatusBadRequest, "Choose one of the formats"},
		{"too large", "big.csv", "", bytes.Repeat([]byte("a"), 33<<20), http.StatusRequestEntityTooLarge, "larger than the 32 MiB the console accepts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := b.upload(c.file, c.content, c.format)
			samltest.WantStatus(t, c.name, status, c.status, body)
			samltest.MustContain(t, body, c.says)
		})
	}
	if after := h.storeCounts(t); after != before {
		t.Fatalf("refused uploads changed the store: %s, was %s", after, before)
	}
}

// TestConsoleServiceProviders: Flex is added from its ACS URL (a URL that
// is not https or not Flex's is refused with a sentence), its settings
// are saved, a preview of unsaved settings saves nothing, users are
// assigned, and it is removed after confirmation.
func TestConsoleServiceProviders(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	b := h.consoleSignIn(t, "owner@example.com", nil)
	status, page := b.get("/admin/sps")
	samltest.WantStatus(t, "SP list", status, http.StatusOK, page)
	samltest.MustContain(t, page, `href="/admin/sps/flex"`)

	const conn = "JQfedcba9876543210fedcba9876543210"
	before := h.storeCounts(t)
	for _, c := range []struct {
		name, acs string
		says      string
	}{
		{"http", "http://login.flex.us1.twilio.com/login/callback?connection=" + conn, "must use https"},
		{"not Flex", "https://example.com/saml/acs", "neither an Enhanced SSO ACS URL"},
		{"bad connection", "https://login.flex.us1.twilio.com/login/callback?connection=JQ1", "not a Flex SSO connection ID"},
		{"empty", "", "The ACS URL is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := b.submit(page, "/admin/sps", url.Values{"name": {"flex2"}, "acs": {c.acs}})
			samltest.WantStatus(t, c.name, status, http.StatusBadRequest, body)
			samltest.MustContain(t, body, `id="sp-error"`, c.says)
		})
	}
	if after := h.storeCounts(t); after != before {
		t.Fatalf("refused SPs changed the store: %s, was %s", after, before)
	}
	status, page = b.submit(page, "/admin/sps", url.Values{"name": {"flex2"}, "display_name": {"Acme (Flex)"},
		"acs": {"https://login.flex.us1.twilio.com/login/callback?connection=" + conn}})
	samltest.WantStatus(t, "add Flex", status, http.StatusOK, page)
	samltest.MustContain(t, page, "The service provider is added.", "urn:flex:"+conn)
	p, err := h.Accounts.GetSP(context.Background(), "flex2")
	if err != nil || p.DisplayName != "Acme (Flex)" {
		t.Fatalf("added SP %+v, %v", p, err)
	}

	// A bad certificate is refused; nothing saved.
	form := url.Values{"display_name": {"Acme (Flex)"}, "signing_certificate": {"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"},
		"require_signed": {"on"}, "action": {"save"}}
	status, body := b.submit(page, "/admin/sps/flex2", form)
	samltest.WantStatus(t, "bad certificate", status, http.StatusBadRequest, body)
	samltest.MustContain(t, body, `id="sp-error"`, "signing_certificate")
	// A preview of unsaved settings shows them, and saves nothing.
	form = url.Values{"static": {"location=Paris"}, "default_redirect_url": {"https://flex.twilio.com/acme"}, "require_signed": {"on"},
		"preview_user": {"agent@example.com"}, "action": {"preview"}}
	status, body = b.submit(page, "/admin/sps/flex2", form)
	samltest.WantStatus(t, "preview", status, http.StatusOK, body)
	samltest.MustContain(t, body, `id="preview-table"`, "<td>location</td><td>Paris</td>", "not saved")
	if p, _ := h.Accounts.GetSP(context.Background(), "flex2"); len(p.Policy.Static) != 0 || p.DefaultRedirectURL != "" {
		t.Fatalf("the preview saved: %+v", p)
	}
	// Saved.
	form.Set("action", "save")
	form.Set("assignment_required", "on")
	status, body = b.submit(page, "/admin/sps/flex2", form)
	samltest.WantStatus(t, "save", status, http.StatusOK, body)
	samltest.MustContain(t, body, "settings are saved")
	if p, _ := h.Accounts.GetSP(context.Background(), "flex2"); p.Policy.Static["location"].String() != "Paris" ||
		p.DefaultRedirectURL != "https://flex.twilio.com/acme" || !p.AssignmentRequired || p.DisplayName != "" {
		t.Fatalf("saved SP %+v", p)
	}
	// Assign and unassign.
	status, body = b.submit(body, "/admin/sps/flex2/assign", url.Values{"user": {"agent@example.com"}, "action": {"assign"}})
	samltest.WantStatus(t, "assign", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The user is assigned.", `id="assignees"`, "agent@example.com")
	status, body = b.submit(body, "/admin/sps/flex2/assign", url.Values{"user": {"nobody@example.com"}, "action": {"assign"}})
	samltest.WantStatus(t, "assign an unknown user", status, http.StatusNotFound, body)
	// Remove: the confirmation page, a wrong name, then the name.
	status, body = b.get("/admin/sps/flex2/remove")
	samltest.WantStatus(t, "confirmation page", status, http.StatusOK, body)
	status, _ = b.submit(body, "/admin/sps/flex2/remove", url.Values{"confirm": {"flex"}})
	samltest.WantStatus(t, "remove with the wrong name", status, http.StatusBadRequest, "")
	status, body = b.submit(body, "/admin/sps/flex2/remove", url.Values{"confirm": {"flex2"}})
	samltest.WantStatus(t, "remove", status, http.StatusOK, body)
	samltest.MustContain(t, body, "The service provider is removed")
	if _, err := h.Accounts.GetSP(context.Background(), "flex2"); err == nil {
		t.Fatal("the SP is still there")
	}
	ev, _ := h.Store.ListAudit(context.Background(), store.AuditFilter{Actor: "owner@example.com", Action: "admin.sp"})
	var acts []string
	for _, e := range ev {
		acts = append(acts, e.Action)
	}
	// Newest first; the refusals and the preview recorded nothing.
	if got := strings.Join(acts, " "); got != "admin.sp.remove admin.sp.assign admin.sp.set admin.sp.add" {
		t.Errorf("SP audit events by the owner: %s", got)
	}
}

// TestConsoleKeys: an owner adds a next key, activates it (the page shows
// the Twilio Console steps and the certificate; the server signs with it
// at once) and cannot retire the active key.
func TestConsoleKeys(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	b := h.consoleSignIn(t, "owner@example.com", nil)
	old := activeKey(t, h)
	status, page := b.get("/admin/keys")
	samltest.WantStatus(t, "keys", status, http.StatusOK, page)
	samltest.MustContain(t, page, old, "active")
	status, page = b.submit(page, "/admin/keys", nil)
	samltest.WantStatus(t, "add a next key", status, http.StatusOK, page)
	samltest.MustContain(t, page, "A next key is added", ">next<")
	list, _ := h.Accounts.ListKeys(context.Background())
	var next store.SigningKey
	for _, k := range list {
		if k.State == store.KeyNext {
			next = k
		}
	}
	if next.ID == "" {
		t.Fatalf("no next key after adding one: %+v", list)
	}
	status, page = b.submit(page, "/admin/keys/"+next.ID+"/activate", nil)
	samltest.WantStatus(t, "activate", status, http.StatusOK, page)
	samltest.MustContain(t, html.UnescapeString(page), "The key is now active", `id="key-steps"`, "Twilio Console > Flex > Manage > Single sign-on (SSO)",
		"Identity Provider Issuer is "+h.IdP.EntityID(), strings.TrimSpace(string(next.CertificatePEM)))
	if got := strings.TrimSpace(string(h.certificate(t))); got != strings.TrimSpace(string(next.CertificatePEM)) {
		t.Fatalf("the server still publishes the old certificate after activation")
	}
	status, body := b.submit(page, "/admin/keys/"+next.ID+"/retire", nil)
	samltest.WantStatus(t, "retire the active key", status, http.StatusConflict, body)
	samltest.MustContain(t, body, "cannot be retired")
	status, _ = b.submit(page, "/admin/keys/"+old+"/retire", nil)
	samltest.WantStatus(t, "retire the old key", status, http.StatusOK, "")
}

// TestConsoleAudit: filters, keyset pages and the export of the filtered
// events.
func TestConsoleAudit(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "viewer@example.com", users.ConsoleViewer)
	for i := range 60 {
		if err := h.Accounts.Audit(context.Background(), store.AuditEvent{Action: "admin.user.update", Actor: "robot",
			Email: fmt.Sprintf("u%d@example.com", i), Reason: fmt.Sprintf("change %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	b := h.consoleSignIn(t, "viewer@example.com", nil)
	status, page := b.get("/admin/audit?actor=robot")
	samltest.WantStatus(t, "audit, by actor", status, http.StatusOK, page)
	samltest.MustContain(t, page, "change 59", `id="audit-next"`)
	if strings.Contains(page, "change 9<") {
		t.Error("the first page holds the oldest events")
	}
	next := regexp.MustCompile(`id="audit-next"`).FindStringIndex(page)
	href := regexp.MustCompile(`href="(/admin/audit\?[^"]+)" id="audit-next"`).FindStringSubmatch(page)
	if next == nil || href == nil {
		t.Fatalf("no next link:\n%s", page)
	}
	status, page = b.get(strings.ReplaceAll(href[1], "&amp;", "&"))
	samltest.WantStatus(t, "audit, page 2", status, http.StatusOK, page)
	samltest.MustContain(t, page, "change 9<", "change 0<", "First page")
	if strings.Contains(page, `id="audit-next"`) || strings.Contains(page, "change 10<") {
		t.Error("page 2 is not the last page of the 10 oldest events")
	}
	status, page = b.get("/admin/audit?since=yesterday-ish")
	samltest.WantStatus(t, "bad time", status, http.StatusBadRequest, page)
	samltest.MustContain(t, page, `id="audit-error"`, "is not a time")

	resp, err := b.C.Get(b.base + "/admin/audit/export?format=csv&actor=robot")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.StatusCode != http.StatusOK || len(rows) != 61 || rows[0][0] != "id" || rows[1][8] != "change 59" {
		t.Fatalf("CSV export: %d, %d rows, %v", resp.StatusCode, len(rows), err)
	}
	status, body := b.get("/admin/audit/export?format=jsonl&action=admin.user.update&user=u3@example.com")
	samltest.WantStatus(t, "JSON lines export", status, http.StatusOK, body)
	if n := strings.Count(body, "\n"); n != 1 || !strings.Contains(body, `"reason":"change 3"`) {
		t.Fatalf("JSON lines export: %q", body)
	}
}

// TestConsoleImportChecksAgainAtApply: the file is checked again when it
// is applied, against the users stored then: a row whose ID now belongs
// to another email stops the import, and nothing is written.
func TestConsoleImportChecksAgainAtApply(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "manager@example.com", users.ConsoleManager)
	b := h.consoleSignIn(t, "manager@example.com", nil)
	agent := h.user(t, "agent@example.com")
	file := "id,email,full_name,roles\n" + agent.ID + ",agent@example.com,Alex Agent,agent\n,new@example.com,New,agent\n"
	status, body := b.upload("users.csv", []byte(file), "")
	samltest.WantStatus(t, "dry run", status, http.StatusOK, body)
	m := applyRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no apply form:\n%s", body)
	}
	if _, err := h.Accounts.UpdateUser(context.Background(), admin, agent.ID, "user.update", func(u *users.User) error {
		u.Email = "alex@example.com"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	before := h.storeCounts(t)
	status, body = b.submit(body, m[1], nil)
	samltest.WantStatus(t, "apply", status, http.StatusOK, body)
	for i := 0; strings.Contains(body, `id="import-progress"`) && i < 30; i++ {
		_, body = b.get(strings.TrimSuffix(m[1], "/apply"))
	}
	samltest.MustContain(t, body, `id="import-failed"`, "Line 2: ", "belongs to another user")
	if after := h.storeCounts(t); after != before {
		t.Fatalf("a refused apply changed the store: %s, was %s", after, before)
	}
}

// TestConsoleSPCertificateUpload: an owner uploads the SP's signing
// certificate as a PEM file, checked as a pasted one; a file that is not a
// certificate is refused with a sentence and changes nothing; a manager
// cannot upload one.
func TestConsoleSPCertificateUpload(t *testing.T) {
	h := newTestIdP(t, idpOptions{})
	h.consoleUser(t, "owner@example.com", users.ConsoleOwner)
	h.consoleUser(t, "manager@example.com", users.ConsoleManager)
	cert := samltest.SignRequests(t, samltest.FlexSP(t, h.URL))

	m := h.consoleSignIn(t, "manager@example.com", nil)
	status, body, _ := m.postFile("/admin/sps/flex/certificate", "certificate", "flex.pem", cert, nil)
	samltest.WantStatus(t, "manager uploads a certificate", status, http.StatusForbidden, body)

	b := h.consoleSignIn(t, "owner@example.com", nil)
	before := h.storeCounts(t)
	for _, c := range []struct {
		name    string
		content []byte
		status  int
		says    string
	}{
		{"not PEM", []byte("hello"), http.StatusBadRequest, "signing_certificate"},
		{"a private key", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), http.StatusBadRequest, "is not a CERTIFICATE"},
		{"empty", nil, http.StatusBadRequest, "The certificate file is empty."},
		{"too large", bytes.Repeat([]byte("a"), 300<<10), http.StatusRequestEntityTooLarge, "larger than the 256 KiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body, _ := b.postFile("/admin/sps/flex/certificate", "certificate", "x.pem", c.content, nil)
			samltest.WantStatus(t, c.name, status, c.status, body)
			samltest.MustContain(t, body, c.says)
		})
	}
	if p, _ := h.Accounts.GetSP(context.Background(), "flex"); p.SigningCertificatePEM != "" || h.storeCounts(t) != before {
		t.Fatalf("refused uploads changed the SP or the store: %q", p.SigningCertificatePEM)
	}
	status, body, _ = b.postFile("/admin/sps/flex/certificate", "certificate", "flex.pem", cert, nil)
	samltest.WantStatus(t, "upload", status, http.StatusOK, body)
	samltest.MustContain(t, body, "settings are saved", "must be signed with its registered certificate")
	if p, _ := h.Accounts.GetSP(context.Background(), "flex"); p.SigningCertificatePEM != string(cert) || !p.RequiresSignedRequests() {
		t.Fatalf("stored certificate %q", p.SigningCertificatePEM)
	}
}
