package main

import (
	"encoding/xml"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	crewjam "github.com/crewjam/saml"
	"github.com/jackc/pgx/v5"

	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/store"
	"github.com/flexidp/flexidp/internal/store/postgres"
	"github.com/flexidp/flexidp/migrations"
)

const testKeyEncryptionKey = "test-key-encryption-key-0123456789"

// openTestStore opens the test database directly, as the replicas see it.
func openTestStore(t *testing.T, e *testEnv) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestReplicas starts two `idp serve` at the same moment on one empty
// PostgreSQL database, as a Deployment with two replicas does on its first
// rollout, and checks that they behave as one IdP: migrations applied
// once, one signing key, the same certificate, and sessions, replay
// protection and logout shared.
func TestReplicas(t *testing.T) {
	e := newTestEnv(t)
	e.getenv["IDP_KEY_ENCRYPTION_KEY"] = testKeyEncryptionKey

	// Both replicas are reached at A's URL in production (one load
	// balancer); here A's address doubles as the shared base URL.
	a := e.launchServe()
	b := e.launchServe("--base-url", a.base)
	var wg sync.WaitGroup
	for _, p := range []*serveProc{a, b} {
		wg.Go(func() { e.waitReady(p) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	t.Run("migrations ran once", func(t *testing.T) {
		st := openTestStore(t, e)
		rows, _ := st.Pool().Query(t.Context(), `SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version`)
		type applied struct{ Version, Count int }
		got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[applied])
		if err != nil {
			t.Fatal(err)
		}
		files, err := fs.Glob(migrations.Postgres, "postgres/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(files) {
			t.Errorf("schema_migrations holds %d versions, there are %d migrations", len(got), len(files))
		}
		for _, r := range got {
			if r.Count != 1 {
				t.Errorf("migration %d recorded %d times", r.Version, r.Count)
			}
		}
		if n := strings.Count(a.logs(), `"migrations applied"`) + strings.Count(b.logs(), `"migrations applied"`); n != 1 {
			t.Errorf("%d replicas report they applied migrations, want exactly 1", n)
		}
	})

	t.Run("one signing key", func(t *testing.T) {
		keys, err := openTestStore(t, e).ListSigningKeys(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 1 || keys[0].State != store.KeyActive {
			t.Fatalf("the store holds %d signing keys, want exactly one active key", len(keys))
		}
		if strings.Contains(string(keys[0].PrivateKey), "PRIVATE KEY") {
			t.Error("the private key is stored in the clear although IDP_KEY_ENCRYPTION_KEY is set")
		}
		if n := strings.Count(a.logs(), `"signing key generated"`) + strings.Count(b.logs(), `"signing key generated"`); n != 1 {
			t.Errorf("%d replicas report they generated the signing key, want exactly 1", n)
		}
		certA, certB := getBody(t, a.base+"/saml/certificate.pem"), getBody(t, b.base+"/saml/certificate.pem")
		if string(certA) != string(keys[0].CertificatePEM) || string(certB) != string(certA) {
			t.Errorf("the replicas publish different certificates:\nA: %s\nB: %s", certA, certB)
		}
		if mdA, mdB := metadataCerts(t, a.base), metadataCerts(t, b.base); len(mdA) != 1 || strings.Join(mdA, ",") != strings.Join(mdB, ",") {
			t.Errorf("metadata certificates differ: A %d, B %d", len(mdA), len(mdB))
		}
	})

	t.Run("session shared", func(t *testing.T) {
		setupFlex(t, e)
		sp := samltest.FlexSP(t, a.base)
		br := samltest.NewBrowser(t)

		// Sign in on A.
		redirect, reqID := samltest.AuthnRedirect(t, sp, "", nil)
		_, body := br.Get(redirect)
		status, body := br.Login(a.base, body, "agent@example.com", password)
		if status != http.StatusOK {
			t.Fatalf("login on A: status %d\n%s", status, body)
		}
		samltest.Accepts(t, sp, samltest.Form(t, body), reqID)

		// The next request reaches B: answered from the session, no prompt.
		// The cookie jar keys cookies by host, not port, so A's session
		// cookie goes to B as it would through one load balancer.
		redirect, reqID = samltest.AuthnRedirect(t, sp, "", nil)
		onB := strings.Replace(redirect, a.base, b.base, 1)
		status, body = br.Get(onB)
		if status != http.StatusOK || strings.Contains(body, `name="password"`) {
			t.Fatalf("SSO on B with A's session: status %d, want a Response without a prompt\n%s", status, body)
		}
		assertion := samltest.Accepts(t, sp, samltest.Form(t, body), reqID)
		if got := assertion.Subject.NameID.Value; got != "agent@example.com" {
			t.Errorf("B answered for %q", got)
		}

		// B answered that request: A refuses to answer it again.
		status, _ = br.Get(redirect)
		if status != http.StatusConflict {
			t.Errorf("request answered by B, replayed on A: status %d, want 409", status)
		}

		// Logout on B ends the session on A too.
		_, launcher := br.Get(b.base + "/launcher")
		if status, body := br.Post(b.base+"/logout", url.Values{"csrf": {samltest.HiddenFields(launcher)["csrf"]}}); status != http.StatusOK {
			t.Fatalf("logout on B: status %d\n%s", status, body)
		}
		redirect, _ = samltest.AuthnRedirect(t, sp, "", nil)
		_, body = br.Get(redirect)
		samltest.MustContain(t, body, `name="password"`)
	})
}

// metadataCerts returns the signing certificates of the IdP metadata at
// base, base64 DER, in document order.
func metadataCerts(t *testing.T, base string) []string {
	t.Helper()
	var md crewjam.EntityDescriptor
	if err := xml.Unmarshal(getBody(t, base+"/saml/metadata"), &md); err != nil {
		t.Fatalf("parse metadata: %v", err)
	}
	if len(md.IDPSSODescriptors) != 1 {
		t.Fatalf("metadata has %d IDPSSODescriptors", len(md.IDPSSODescriptors))
	}
	var certs []string
	for _, kd := range md.IDPSSODescriptors[0].KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" {
			continue
		}
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			certs = append(certs, strings.Join(strings.Fields(c.Data), ""))
		}
	}
	return certs
}
