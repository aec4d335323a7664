package main

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// mailer sends password links by email when IDP_SMTP_HOST is set. It is
// deliberately simple: net/smtp, STARTTLS when the server offers it, PLAIN
// authentication (which net/smtp refuses without TLS, except to localhost).
type mailer struct {
	addr, host, username, password, from string
}

// mailerFromEnv returns the configured mailer, or nil.
func mailerFromEnv(env *environment) (*mailer, error) {
	host := env.getenv("IDP_SMTP_HOST")
	if host == "" {
		return nil, nil
	}
	from := env.getenv("IDP_SMTP_FROM")
	if from == "" {
		return nil, fmt.Errorf("IDP_SMTP_HOST is set but IDP_SMTP_FROM (the sender address) is not")
	}
	return &mailer{addr: net.JoinHostPort(host, envOr(env, "IDP_SMTP_PORT", "587")), host: host,
		username: env.getenv("IDP_SMTP_USERNAME"), password: env.getenv("IDP_SMTP_PASSWORD"), from: from}, nil
}

// Send mails body to one validated address (accounts.Mailer).
func (m *mailer) Send(_ context.Context, to, subject, body string) error {
	var auth smtp.Auth
	if m.username != "" {
		auth = smtp.PlainAuth("", m.username, m.password, m.host)
	}
	// A subject in another language than English has non-ASCII letters:
	// RFC 2047 encodes it (ASCII subjects are left as they are).
	msg := "From: " + m.from + "\r\nTo: " + to + "\r\nSubject: " + mime.QEncoding.Encode("utf-8", subject) + "\r\nDate: " + time.Now().Format(time.RFC1123Z) +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.ReplaceAll(body, "\n", "\r\n")
	if err := smtp.SendMail(m.addr, auth, m.from, []string{to}, []byte(msg)); err != nil {
		return fmt.Errorf("send email via %s: %w", m.addr, err)
	}
	return nil
}
