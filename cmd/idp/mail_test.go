package main

import (
	"context"
	"mime"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/i18n"
	"github.com/flexidp/flexidp/internal/samltest"
	"github.com/flexidp/flexidp/internal/smtptest"
)

// fakeSMTP starts an SMTP server and returns its address and the channel
// the messages arrive on.
func fakeSMTP(t *testing.T) (addr string, got <-chan string) {
	s := smtptest.Start(t)
	return s.Addr, s.Got
}

func TestResetLinkByEmail(t *testing.T) {
	e := newTestEnv(t)
	e.cli(password+"\n", "users", "add", "--email", "ada@example.com", "--roles", "agent")
	addr, got := fakeSMTP(t)
	host, port, _ := net.SplitHostPort(addr)
	for k, v := range map[string]string{"IDP_BASE_URL": "https://idp.example.com", "IDP_SMTP_HOST": host, "IDP_SMTP_PORT": port, "IDP_SMTP_FROM": "idp@example.com"} {
		e.getenv[k] = v
	}
	out := e.cli("", "users", "reset-link", "--email", "ada@example.com")
	link := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	if !strings.HasPrefix(link, "https://idp.example.com/password?token=") {
		t.Fatalf("no link printed:\n%s", out)
	}
	mail := <-got
	samltest.MustContain(t, mail, "To: ada@example.com", "Subject: Reset your flexidp password", link)
	samltest.MustContain(t, out, "emailed to ada@example.com")
}

// TestMailSubjectEncoded: a subject in another language than English
// (non-ASCII letters) is RFC 2047-encoded, so mail clients show it as
// written; an ASCII subject is sent as it is.
func TestMailSubjectEncoded(t *testing.T) {
	addr, got := fakeSMTP(t)
	host, port, _ := net.SplitHostPort(addr)
	m := &mailer{addr: net.JoinHostPort(host, port), host: host, from: "idp@example.com"}
	subject := i18n.T("fr", "email.reset_subject")
	if err := m.Send(context.Background(), "ada@example.com", subject, "Bonjour\n"); err != nil {
		t.Fatal(err)
	}
	msg := <-got
	line := regexp.MustCompile(`(?m)^Subject: (.*)\r$`).FindStringSubmatch(msg)
	if line == nil {
		t.Fatalf("no Subject:\n%s", msg)
	}
	decoded, err := new(mime.WordDecoder).DecodeHeader(line[1])
	if err != nil || decoded != subject || line[1] == subject {
		t.Errorf("Subject %q decodes to %q (%v), want %q, encoded", line[1], decoded, err, subject)
	}
}
