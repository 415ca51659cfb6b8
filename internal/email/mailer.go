package email

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"log/slog"
	texttemplate "text/template"
	"time"

	"github.com/gatehouse/gatehouse/internal/outbox"
	"github.com/gatehouse/gatehouse/internal/secret"
	"github.com/gatehouse/gatehouse/internal/store"
)

// Topic is the outbox topic of outgoing email.
const Topic = "email"

// sealContext binds sealed payloads to the email topic: a payload copied
// into another queue or table does not open there.
const sealContext = "outbox:" + Topic

// Brand is the operator's branding, shown in every message.
type Brand struct {
	SiteName       string
	SupportContact string // "" = none
	AccentColor    string // #rrggbb; "" = the built-in blue
}

// Mailer renders messages and queues them for delivery.
type Mailer struct {
	box    *secret.Box
	out    *outbox.Outbox
	sender Sender
	from   string
	brand  Brand
	now    func() time.Time
	rand   io.Reader
	log    *slog.Logger
}

// NewMailer builds a Mailer and registers its delivery handler on out.
func NewMailer(box *secret.Box, out *outbox.Outbox, sender Sender, from string, brand Brand, now func() time.Time, r io.Reader, log *slog.Logger) *Mailer {
	if brand.AccentColor == "" {
		brand.AccentColor = "#1d4ed8"
	}
	m := &Mailer{box: box, out: out, sender: sender, from: from, brand: brand, now: now, rand: r, log: log}
	out.Handle(Topic, m.deliver)
	return m
}

// Send renders template kind (one of the Kind constants) for the address to
// and enqueues it through tx: pass the Store InTx handed to the caller so
// the message exists exactly when the change it reports is committed.
func (m *Mailer) Send(ctx context.Context, tx store.Store, kind Kind, to string, data map[string]any) error {
	msg, err := m.Render(kind, to, data)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	// Sealed at rest: the message may carry a single-use link whose hash
	// alone is stored elsewhere; the outbox row must not be the way round.
	sealed, err := m.box.Seal(payload, sealContext)
	if err != nil {
		return fmt.Errorf("email: seal: %w", err)
	}
	_, err = m.out.Enqueue(ctx, tx, Topic, sealed)
	return err
}

// deliver is the outbox handler of Topic.
func (m *Mailer) deliver(ctx context.Context, payload string) error {
	raw, err := m.box.Open(payload, sealContext)
	if err != nil {
		return outbox.Permanent(fmt.Errorf("email: open payload: %w", err))
	}
	var msg Message
	if err := json.Unmarshal(raw, &msg); err != nil {
		return outbox.Permanent(fmt.Errorf("email: decode payload: %w", err))
	}
	err = m.sender.Send(ctx, m.from, msg, m.now())
	if errors.Is(err, ErrRejected) {
		return outbox.Permanent(err)
	}
	return err
}

// Kind names a message template.
type Kind string

// The messages Gatehouse sends.
const (
	// KindVerify: data Link.
	KindVerify Kind = "verify"
	// KindReset: data Link, Minutes.
	KindReset Kind = "reset"
	// KindEmailChangeConfirm (to the new address): data Link, NewEmail.
	KindEmailChangeConfirm Kind = "email_change_confirm"
	// KindSecurity: data Event (a sentence), Detail (optional).
	KindSecurity Kind = "security"
)

type tmpl struct {
	subject string
	text    string // text/template
	html    string // html/template body, inside the layout
}

var templates = map[Kind]tmpl{
	KindVerify: {
		subject: "Confirm your email address for {{.Brand.SiteName}}",
		text:    "Hello,\n\nPlease confirm that this is your email address for {{.Brand.SiteName}} by opening this link:\n\n{{.Link}}\n\nIf you did not create an account, you can ignore this message.\n",
		html:    `<p>Hello,</p><p>Please confirm that this is your email address for {{.Brand.SiteName}}.</p><p><a class="button" href="{{.Link}}">Confirm email address</a></p><p>If you did not create an account, you can ignore this message.</p>`,
	},
	KindReset: {
		subject: "Reset your {{.Brand.SiteName}} password",
		text:    "Hello,\n\nSomeone (hopefully you) asked to reset the password of your {{.Brand.SiteName}} account. Open this link within {{.Minutes}} minutes to choose a new one:\n\n{{.Link}}\n\nThe link works once. If you did not ask for this, ignore this message: your password stays as it is.\n",
		html:    `<p>Hello,</p><p>Someone (hopefully you) asked to reset the password of your {{.Brand.SiteName}} account. Open this link within {{.Minutes}} minutes to choose a new one.</p><p><a class="button" href="{{.Link}}">Choose a new password</a></p><p>The link works once. If you did not ask for this, ignore this message: your password stays as it is.</p>`,
	},
	KindEmailChangeConfirm: {
		subject: "Confirm your new email address for {{.Brand.SiteName}}",
		text:    "Hello,\n\nTo make {{.NewEmail}} the address of your {{.Brand.SiteName}} account, open this link:\n\n{{.Link}}\n\nIf you did not ask for this, ignore this message.\n",
		html:    `<p>Hello,</p><p>To make {{.NewEmail}} the address of your {{.Brand.SiteName}} account, confirm it.</p><p><a class="button" href="{{.Link}}">Confirm new address</a></p><p>If you did not ask for this, ignore this message.</p>`,
	},
	KindSecurity: {
		subject: "Security notice from {{.Brand.SiteName}}",
		text:    "Hello,\n\n{{.Event}}\n{{with .Detail}}\n{{.}}\n{{end}}\nIf this was you, there is nothing to do. If not, change your password and review your account's security settings now.\n",
		html:    `<p>Hello,</p><p><strong>{{.Event}}</strong></p>{{with .Detail}}<p>{{.}}</p>{{end}}<p>If this was you, there is nothing to do. If not, change your password and review your account's security settings now.</p>`,
	},
}

const htmlLayout = `<!doctype html><html><head><meta charset="utf-8"><title>{{.Subject}}</title>` +
	`<style>a.button{display:inline-block;padding:.5rem 1rem;border-radius:.375rem;color:#fff;text-decoration:none;background:{{.Accent}}}</style></head>` +
	`<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111;max-width:36rem;margin:auto;padding:1rem">` +
	`<h1 style="font-size:1.25rem">{{.Brand.SiteName}}</h1>{{.Body}}` +
	`{{with .Brand.SupportContact}}<p style="color:#555;font-size:.875rem">Need help? Contact {{.}}.</p>{{end}}` +
	`</body></html>`

const textFooter = "{{with .Brand.SupportContact}}\n-- \nNeed help? Contact {{.}}.\n{{end}}"

// Render produces the message of kind for to, without queueing it.
func (m *Mailer) Render(kind Kind, to string, data map[string]any) (Message, error) {
	t, ok := templates[kind]
	if !ok {
		return Message{}, fmt.Errorf("email: unknown template %q", kind)
	}
	d := map[string]any{}
	for k, v := range data {
		d[k] = v
	}
	d["Brand"] = m.brand
	if _, ok := d["Detail"]; !ok {
		d["Detail"] = "" // optional in every template
	}
	var id [16]byte
	if _, err := io.ReadFull(m.rand, id[:]); err != nil {
		return Message{}, fmt.Errorf("email: message id: %w", err)
	}
	subject, err := execText(t.subject, d)
	if err != nil {
		return Message{}, err
	}
	text, err := execText(t.text+textFooter, d)
	if err != nil {
		return Message{}, err
	}
	body, err := execHTML(t.html, d)
	if err != nil {
		return Message{}, err
	}
	page, err := execHTML(htmlLayout, map[string]any{
		"Subject": subject, "Brand": m.brand, "Body": htmltemplate.HTML(body), // #nosec: rendered by html/template just above
		"Accent": htmltemplate.CSS(m.brand.AccentColor), // validated #rrggbb by config
	})
	if err != nil {
		return Message{}, err
	}
	return Message{ID: hex.EncodeToString(id[:]), To: to, Subject: subject, Text: text, HTML: page}, nil
}

func execText(src string, data any) (string, error) {
	t, err := texttemplate.New("").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("email: template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("email: template: %w", err)
	}
	return b.String(), nil
}

func execHTML(src string, data any) (string, error) {
	t, err := htmltemplate.New("").Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("email: template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("email: template: %w", err)
	}
	return b.String(), nil
}
