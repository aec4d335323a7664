package main

import (
	"net"
	"strings"
	"testing"

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
