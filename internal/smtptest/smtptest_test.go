package smtptest

import (
	"net/smtp"
	"strings"
	"testing"
	"time"
)

func TestDeliversEachMessage(t *testing.T) {
	s := Start(t)
	for _, body := range []string{"first", "second"} {
		if err := smtp.SendMail(s.Addr, nil, "a@example.com", []string{"b@example.com"}, []byte("Subject: x\r\n\r\n"+body+"\r\n")); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-s.Got:
			if !strings.Contains(got, body) {
				t.Fatalf("got %q, want it to contain %q", got, body)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no message arrived")
		}
	}
}
