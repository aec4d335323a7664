package main

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"github.com/flexidp/flexidp/internal/samltest"
)

// fakeSMTP accepts one message and sends its DATA on the channel: enough
// of RFC 5321 for net/smtp without TLS or authentication.
func fakeSMTP(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r, w := bufio.NewReader(c), bufio.NewWriter(c)
		say := func(s string) { w.WriteString(s + "\r\n"); w.Flush() }
		say("220 fake ESMTP")
		var data strings.Builder
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
				say("250 fake")
			case cmd == "DATA":
				say("354 go on")
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == ".\r\n" {
						break
					}
					data.WriteString(l)
				}
				ch <- data.String()
				say("250 queued")
			case cmd == "QUIT":
				say("221 bye")
				return
			default:
				say("250 ok")
			}
		}
	}()
	return ln.Addr().String(), ch
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
