package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/flexidp/flexidp/internal/browsertest"
	"github.com/flexidp/flexidp/internal/mfa"
	"github.com/flexidp/flexidp/internal/samltest"
)

// TestBrowserConsole drives the admin console in Chromium on a real `idp
// serve`: an owner granted from the CLI signs in with the password and
// enrols TOTP (the code computed here from the secret the page shows),
// creates an agent with a team and channel capacities; the agent then
// signs in to Flex and the Response carries exactly those attributes,
// checked by crewjam's SP and by xmlsec1. Every console page is scanned
// with axe-core (no serious or critical violation). With
// FLEXIDP_SCREENSHOTS=dir it saves the Home, Users and A user pages there
// (docs/screenshots/console-*.png are made that way).
func TestBrowserConsole(t *testing.T) {
	browsertest.RequireAxe(t)
	ctx := newChromium(t)
	e := newTestEnv(t)
	setupFlex(t, e)
	e.cli(password+"\n", "users", "add", "--email", "owner@example.com", "--name", "Olive Owner", "--roles", "admin")
	e.cli("", "users", "grant", "--email", "owner@example.com", "--console", "owner")
	base := e.startServe()

	do := func(page string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		browsertest.AssertAccessible(ctx, t, "console "+page)
	}
	shot := func(name string) {
		t.Helper()
		dir := os.Getenv("FLEXIDP_SCREENSHOTS")
		if dir == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		return browserValue(ctx, t, chromedp.Text(chromedp.CSS(sel)))
	}

	// The console sends a browser without a console session to its own
	// sign-in: password, then the TOTP enrolment it always requires.
	do("sign-in", chromedp.Navigate(base+"/admin/users"), chromedp.WaitVisible(chromedp.ID("email")))
	if loc := location(ctx, t); loc != base+"/admin/login" {
		t.Fatalf("the console without a session is at %s, want its sign-in", loc)
	}
	do("enrolment",
		chromedp.SendKeys(chromedp.ID("email"), "owner@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Click(submit),
		chromedp.WaitVisible(chromedp.ID("secret")))
	secret := strings.ReplaceAll(text("#secret"), " ", "")
	code, err := mfa.Code(secret, time.Now())
	if err != nil {
		t.Fatalf("TOTP code for %q: %v", secret, err)
	}
	do("recovery codes", chromedp.SendKeys(chromedp.ID("code"), code), chromedp.Click(submit), chromedp.WaitVisible(chromedp.ID("recovery-codes")))
	do("home", chromedp.Click(submit), chromedp.WaitVisible(chromedp.ID("checklist")))
	home := text("main")
	for _, want := range []string{"Flex is registered", "The signing certificate expires on", "1 enabled user without a Flex role",
		"Identity Provider Issuer", "owner@example.com (owner)"} {
		if !strings.Contains(home, want) {
			t.Fatalf("home lacks %q:\n%s", want, home)
		}
	}
	if v := browserValue(ctx, t, chromedp.Value(chromedp.ID("v-sso"))); v != base+"/saml/sso" {
		t.Fatalf("Single Sign-On URL to paste: %q", v)
	}
	// JavaScript shows the copy buttons (hidden without it).
	if hidden := browserValue(ctx, t, chromedp.Evaluate[bool](`document.querySelector('button.copy[data-copy="v-sso"]').hidden`)); hidden {
		t.Error("the copy buttons stay hidden with JavaScript on")
	}
	shot("console-home")

	do("users", chromedp.Navigate(base+"/admin/users"), chromedp.WaitVisible(chromedp.ID("users")))
	shot("console-users")
	do("users, searched", chromedp.Navigate(base+"/admin/users?q=sam&status=enabled"), chromedp.WaitVisible(chromedp.ID("users-count")))
	if got := text("#users-count"); got != "1 user matches." {
		t.Fatalf("search: %q", got)
	}

	// Groups: the list, and a new group's page with its members form.
	do("groups", chromedp.Navigate(base+"/admin/groups"), chromedp.WaitVisible(chromedp.ID("new-group-form")))
	do("a group",
		chromedp.SendKeys(chromedp.ID("name"), "Sales-ES"),
		chromedp.SendKeys(chromedp.ID("roles"), "agent"),
		chromedp.SetValue(chromedp.ID("attributes"), "skills.stringarray=spanish,sales\nchannel.chat.capacity=3"),
		chromedp.Submit(chromedp.ID("new-group-form")),
		chromedp.WaitVisible(chromedp.ID("add-members-form")))
	if got := text("#notice"); !strings.HasPrefix(got, "The group is created.") {
		t.Fatalf("after creating a group: notice %q", got)
	}

	// Create the agent, then give it channel capacities; a wrong value
	// first, refused next to the field.
	do("create a user", chromedp.Navigate(base+"/admin/users/new"), chromedp.WaitVisible(chromedp.ID("new-user-form")))
	do("create a user, refused",
		chromedp.SendKeys(chromedp.ID("email"), "new.agent@example.com"),
		chromedp.SendKeys(chromedp.ID("full_name"), "Nina Agent"),
		chromedp.SetValue(chromedp.ID("roles"), "agnet"),
		chromedp.SendKeys(chromedp.ID("team"), "Support"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("new-user-form")),
		chromedp.WaitVisible(chromedp.ID("new-error")))
	if got := text("#new-error"); !strings.Contains(got, `did you mean "agent"?`) {
		t.Fatalf("role typo: %q", got)
	}
	do("a user",
		chromedp.SetValue(chromedp.ID("roles"), "agent"),
		chromedp.SetValue(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("new-user-form")),
		chromedp.WaitVisible(chromedp.ID("profile-form")))
	if got := text("#notice"); got != "The user is created." {
		t.Fatalf("after creating: notice %q", got)
	}
	setAttr := func(row int, name, value string) []chromedp.Action[chromedp.Void] {
		n := chromedp.CSS(`#attributes tbody tr:nth-child(` + string(rune('0'+row)) + `) input[name="attr-name"]`)
		v := chromedp.CSS(`#attributes tbody tr:nth-child(` + string(rune('0'+row)) + `) input[name="attr-value"]`)
		return []chromedp.Action[chromedp.Void]{chromedp.SetValue(n, name), chromedp.SetValue(v, value)}
	}
	steps := append(setAttr(1, "channel.chat.capacity", "-3"), chromedp.Submit(chromedp.ID("attributes-form")), chromedp.WaitVisible(chromedp.ID("attributes-error")))
	do("a user, bad attribute", steps...)
	if got := text("#attributes-error"); !strings.Contains(got, "channel.chat.capacity") || !strings.Contains(got, "negative") {
		t.Fatalf("negative capacity: %q", got)
	}
	steps = append(setAttr(1, "channel.chat.capacity", "3"), setAttr(2, "channel.sms.capacity", "2")...)
	steps = append(steps, chromedp.Submit(chromedp.ID("attributes-form")), chromedp.WaitVisible(chromedp.ID("notice")))
	do("a user, saved", steps...)
	if got := text("#notice"); got != "The Flex attributes are saved." {
		t.Fatalf("after the attributes: notice %q", got)
	}
	if preview := text("#release-heading + p + h3 + table"); !strings.Contains(preview, "channel.chat.capacity") || !strings.Contains(preview, "Support") {
		t.Fatalf("the preview lacks the new attributes:\n%s", preview)
	}
	shot("console-user")
	do("reset link", chromedp.Click(chromedp.ID("issue-link")), chromedp.WaitVisible(chromedp.ID("link")))
	if link := browserValue(ctx, t, chromedp.Value(chromedp.ID("link"))); !strings.HasPrefix(link, base+"/password?token=") {
		t.Fatalf("link: %q", link)
	}
	do("re-verify", chromedp.Navigate(base+"/admin/verify?next=/admin/users"), chromedp.WaitVisible(chromedp.ID("verify-form")))

	// The agent signs in to Flex: the Response carries exactly what the
	// console set, and two independent verifiers accept it.
	cert := getBody(t, base+"/saml/certificate.pem")
	sp := samltest.FlexSP(t, base)
	b := samltest.NewBrowser(t)
	page, reqID := b.StartSignIn(sp)
	status, body := b.Login(base, page, "new.agent@example.com", password)
	samltest.WantStatus(t, "the new agent signs in to Flex", status, 200, body)
	form := samltest.Form(t, body)
	assertion := samltest.Accepts(t, sp, form, reqID)
	samltest.VerifyWithXmlsec(t, form.XML, cert)
	want := map[string][]string{
		"email": {"new.agent@example.com"}, "full_name": {"Nina Agent"}, "roles": {"agent"}, "team": {"Support"},
		"channel.chat.capacity": {"3"}, "channel.sms.capacity": {"2"},
	}
	if got := samltest.Values(assertion); !reflect.DeepEqual(got, want) {
		t.Fatalf("the Response carries %v, want exactly %v", got, want)
	}
	if got := assertion.Subject.NameID.Value; got != "new.agent@example.com" {
		t.Fatalf("NameID %q", got)
	}
}

// TestServeAdminListen: with --admin-listen (IDP_ADMIN_LISTEN) `idp serve`
// serves the console only on that listener, /admin on the main one is a
// 404, and both drain on shutdown (the test's cleanup wants exit 0).
func TestServeAdminListen(t *testing.T) {
	e, _ := sqliteEnv(t)
	adminAddr := freeAddr(t)
	p := e.launchServe("--admin-listen", adminAddr)
	e.waitReady(p)
	b := samltest.NewBrowser(t)
	for _, c := range []struct {
		url    string
		status int
		want   string
	}{
		{p.base + "/admin", 404, "There is no page at this address."},
		{p.base + "/admin/login", 404, "There is no page at this address."},
		{"http://" + adminAddr + "/admin/login", 200, "Sign in to the admin console"},
		{"http://" + adminAddr + "/", 200, "Sign in to the admin console"},
		{"http://" + adminAddr + "/login", 404, "There is no page at this address."},
		{"http://" + adminAddr + "/saml/metadata", 404, "There is no page at this address."},
	} {
		status, body := b.Get(c.url)
		samltest.WantStatus(t, c.url, status, c.status, body)
		samltest.MustContain(t, body, c.want)
	}
	if logs := p.logs(); !strings.Contains(logs, `"admin console listening"`) {
		t.Fatalf("serve does not say where the console is:\n%s", logs)
	}
}
