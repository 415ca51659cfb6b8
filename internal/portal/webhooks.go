package portal

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/apps"
	"github.com/gatehouse/gatehouse/internal/store"
	"github.com/gatehouse/gatehouse/internal/web"
	"github.com/gatehouse/gatehouse/internal/webhook"
)

// WithWebhooks adds the app owner's webhook pages, over svc (which decides,
// through the apps service's actor rules, who may manage an app's
// endpoints). Call it before Routes.
func (h *Handler) WithWebhooks(svc *webhook.Service) *Handler {
	h.hooks = svc
	return h
}

// webhookRoutes mounts the webhook pages when the service is there.
func (h *Handler) webhookRoutes(get, post func(string, http.HandlerFunc)) {
	if h.hooks == nil {
		return
	}
	get("/portal/apps/{id}/webhooks", h.webhooksPage)
	post("/portal/apps/{id}/webhooks", h.createEndpoint)
	get("/portal/apps/{id}/webhooks/{endpoint}", h.deliveriesPage)
	post("/portal/apps/{id}/webhooks/{endpoint}/rotate", h.rotateEndpoint)
	post("/portal/apps/{id}/webhooks/{endpoint}/enable", h.enableEndpoint)
	post("/portal/apps/{id}/webhooks/{endpoint}/disable", h.disableEndpoint)
	post("/portal/apps/{id}/webhooks/{endpoint}/delete", h.deleteEndpoint)
	post("/portal/apps/{id}/webhooks/{endpoint}/test", h.testEndpoint)
	post("/portal/apps/{id}/webhooks/{endpoint}/redeliver", h.redeliver)
}

// eventLabels say what each event of the catalog reports, for the
// checkboxes.
var eventLabels = map[string]string{
	webhook.EventAuthorizationGranted: "A user allowed your app",
	webhook.EventAuthorizationRevoked: "A user took their permission back",
	webhook.EventTokenRevoked:         "A token of your app was revoked",
	webhook.EventAppApproved:          "Your app was approved",
	webhook.EventAppRejected:          "Your app was rejected",
	webhook.EventAppDisabled:          "Your app was disabled",
	webhook.EventAppSecretRotated:     "A client secret was added",
	webhook.EventAPIKeyCreated:        "An API key was created",
	webhook.EventAPIKeyRevoked:        "An API key was revoked",
	webhook.EventTest:                 "Test events you send from this page",
}

type eventChoice struct {
	Name, Label string
	Checked     bool
}

func eventChoices(checked []string) []eventChoice {
	out := make([]eventChoice, 0, len(webhook.Catalog))
	for _, t := range webhook.Catalog {
		out = append(out, eventChoice{Name: t, Label: eventLabels[t], Checked: slices.Contains(checked, t)})
	}
	return out
}

// endpointItem is one endpoint on the list, with its state in words.
type endpointItem struct {
	webhook.Endpoint
	// Status is "active", "failing" or "disabled"; Why says since when and
	// why, for the owner.
	Status, Why string
}

func endpointItems(list []webhook.Endpoint) []endpointItem {
	out := make([]endpointItem, 0, len(list))
	for _, e := range list {
		it := endpointItem{Endpoint: e, Status: "active"}
		switch {
		case e.Disabled:
			it.Status = "disabled"
			if e.FailingSince != nil && e.DisabledAt != nil {
				it.Why = "Disabled after failing for " + span(e.DisabledAt.Sub(*e.FailingSince)) + ": " + e.DisabledReason + "."
			} else {
				it.Why = "Disabled: " + e.DisabledReason + "."
			}
			it.Why += " It gets no events until you enable it again."
		case e.FailingSince != nil:
			it.Status = "failing"
			it.Why = "Every delivery has failed since " + e.FailingSince.UTC().Format("2 Jan 2006, 15:04 UTC") +
				"; it is disabled if that lasts three days."
		}
		out = append(out, it)
	}
	return out
}

// span says a duration the way a person would: days, hours or minutes.
func span(d time.Duration) string {
	plural := func(n int, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.Itoa(n) + " " + unit + "s"
	}
	switch {
	case d >= 48*time.Hour:
		return plural(int(d/(24*time.Hour)), "day")
	case d >= 2*time.Hour:
		return plural(int(d/time.Hour), "hour")
	default:
		return plural(max(1, int(d/time.Minute)), "minute")
	}
}

type webhooksData struct {
	App       apps.App
	Endpoints []endpointItem
	Events    []eventChoice
	// In is the add form, kept after a refusal.
	In          webhook.EndpointInput
	FieldErrors map[string]string
	// NewSecret is shown once, right after creation or rotation, for the
	// endpoint NewSecretFor; GraceUntil is set after a rotation.
	NewSecret, NewSecretFor string
	GraceUntil              *time.Time
}

var webhookNotices = map[string]string{
	"enabled":  "The endpoint is enabled: new events are sent to it again.",
	"disabled": "The endpoint is disabled: it gets no events until you enable it.",
	"deleted":  "The endpoint and its delivery log were deleted.",
}

func (h *Handler) renderWebhooks(w http.ResponseWriter, r *http.Request, u *store.User, a apps.App, status int, p web.Page, d webhooksData) {
	list, err := h.hooks.List(r.Context(), apps.UserActor(u.ID, false), a.ID)
	if err != nil {
		h.hookFail(w, r, err)
		return
	}
	d.App, d.Endpoints = a, endpointItems(list)
	if d.Events == nil {
		d.Events = eventChoices(d.In.EventTypes)
	}
	if d.FieldErrors == nil {
		d.FieldErrors = map[string]string{}
	}
	p.Title = "Webhooks — " + a.Name
	p.Data = d
	h.web.Render(w, r, status, "portal_webhooks.html", p)
}

// hookFail renders an error of the webhook service that is not about a
// form field: 404 for what the user may not see, a sentence otherwise.
func (h *Handler) hookFail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, webhook.ErrNotFound), errors.Is(err, apps.ErrNotFound):
		h.notFound(w, r)
	case errors.Is(err, webhook.ErrDisabled):
		h.web.Render(w, r, http.StatusConflict, "error.html", web.Page{Title: "The endpoint is disabled",
			Error: "This endpoint is disabled: enable it first, then try again."})
	case errors.Is(err, apps.ErrForbidden), errors.Is(err, apps.ErrNeedsInPerson):
		h.web.Render(w, r, http.StatusForbidden, "error.html", web.Page{Title: "Not allowed", Error: "You may not do that with this app."})
	default:
		h.serverError(w, r, err)
	}
}

// endpointOf loads the endpoint of the request if it belongs to the app of
// the path and the user may manage it; otherwise a 404 is written.
func (h *Handler) endpointOf(w http.ResponseWriter, r *http.Request, u *store.User) (webhook.Endpoint, bool) {
	e, err := h.hooks.Get(r.Context(), apps.UserActor(u.ID, false), r.PathValue("endpoint"))
	if err == nil && e.AppID != r.PathValue("id") {
		err = webhook.ErrNotFound
	}
	if err != nil {
		h.hookFail(w, r, err)
		return webhook.Endpoint{}, false
	}
	return e, true
}

func (h *Handler) webhooksPage(w http.ResponseWriter, r *http.Request) {
	u, a, ok := h.load(w, r)
	if !ok {
		return
	}
	h.renderWebhooks(w, r, u, a, http.StatusOK, web.Page{Notice: webhookNotices[r.URL.Query().Get("msg")]}, webhooksData{})
}

func (h *Handler) createEndpoint(w http.ResponseWriter, r *http.Request) {
	u, a, ok := h.load(w, r)
	if !ok {
		return
	}
	in := webhook.EndpointInput{URL: strings.TrimSpace(r.PostFormValue("url")), EventTypes: r.PostForm["event_type"],
		Description: strings.TrimSpace(r.PostFormValue("description"))}
	e, secret, err := h.hooks.Create(r.Context(), actor(u, r), a.ID, in)
	var ie *webhook.InvalidError
	switch {
	case err == nil:
	case errors.As(err, &ie):
		h.renderWebhooks(w, r, u, a, http.StatusBadRequest, web.Page{Error: "Please correct the highlighted fields."},
			webhooksData{In: in, FieldErrors: map[string]string{ie.Field: fieldSentence(ie)}})
		return
	default:
		h.hookFail(w, r, err)
		return
	}
	// The secret is in this response only: it is stored sealed and never
	// shown again.
	h.renderWebhooks(w, r, u, a, http.StatusCreated, web.Page{Notice: "The endpoint was added. Events it subscribed to are sent to it from now on."},
		webhooksData{NewSecret: secret, NewSecretFor: e.ID})
}

// fieldSentence turns the service's complaint about a field into a
// sentence under it.
func fieldSentence(ie *webhook.InvalidError) string {
	switch ie.Field {
	case "url":
		return "The URL " + ie.Message + "."
	case "description":
		return "The description may be " + ie.Message + "."
	}
	return strings.ToUpper(ie.Message[:1]) + ie.Message[1:] + "."
}

func (h *Handler) rotateEndpoint(w http.ResponseWriter, r *http.Request) {
	u, a, ok := h.load(w, r)
	if !ok {
		return
	}
	if _, ok := h.endpointOf(w, r, u); !ok {
		return
	}
	secret, e, err := h.hooks.RotateSecret(r.Context(), actor(u, r), r.PathValue("endpoint"))
	if err != nil {
		h.hookFail(w, r, err)
		return
	}
	h.renderWebhooks(w, r, u, a, http.StatusOK, web.Page{Notice: "The endpoint has a new signing secret."},
		webhooksData{NewSecret: secret, NewSecretFor: e.ID, GraceUntil: e.PreviousSecretUntil})
}

func (h *Handler) setEnabled(w http.ResponseWriter, r *http.Request, enabled bool) {
	u, _, ok := h.load(w, r)
	if !ok {
		return
	}
	if _, ok := h.endpointOf(w, r, u); !ok {
		return
	}
	if _, err := h.hooks.SetEnabled(r.Context(), actor(u, r), r.PathValue("endpoint"), enabled, ""); err != nil {
		h.hookFail(w, r, err)
		return
	}
	msg := "disabled"
	if enabled {
		msg = "enabled"
	}
	http.Redirect(w, r, "/portal/apps/"+r.PathValue("id")+"/webhooks?msg="+msg, http.StatusSeeOther)
}

func (h *Handler) enableEndpoint(w http.ResponseWriter, r *http.Request)  { h.setEnabled(w, r, true) }
func (h *Handler) disableEndpoint(w http.ResponseWriter, r *http.Request) { h.setEnabled(w, r, false) }

func (h *Handler) deleteEndpoint(w http.ResponseWriter, r *http.Request) {
	u, a, ok := h.load(w, r)
	if !ok {
		return
	}
	if _, ok := h.endpointOf(w, r, u); !ok {
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		h.renderWebhooks(w, r, u, a, http.StatusBadRequest, web.Page{Error: "Tick the box to confirm that the endpoint and its delivery log should be deleted."}, webhooksData{})
		return
	}
	if err := h.hooks.Delete(r.Context(), actor(u, r), r.PathValue("endpoint")); err != nil {
		h.hookFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/portal/apps/"+a.ID+"/webhooks?msg=deleted", http.StatusSeeOther)
}

func (h *Handler) testEndpoint(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.load(w, r)
	if !ok {
		return
	}
	e, ok := h.endpointOf(w, r, u)
	if !ok {
		return
	}
	if _, err := h.hooks.SendTest(r.Context(), actor(u, r), e.ID); err != nil {
		h.hookFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/portal/apps/"+r.PathValue("id")+"/webhooks/"+e.ID+"?msg=test", http.StatusSeeOther)
}

func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request) {
	u, _, ok := h.load(w, r)
	if !ok {
		return
	}
	e, ok := h.endpointOf(w, r, u)
	if !ok {
		return
	}
	if err := h.hooks.Redeliver(r.Context(), actor(u, r), e.ID, r.PostFormValue("delivery_id")); err != nil {
		h.hookFail(w, r, err)
		return
	}
	http.Redirect(w, r, "/portal/apps/"+r.PathValue("id")+"/webhooks/"+e.ID+"?msg=redeliver", http.StatusSeeOther)
}

// ---------------------------------------------------------------- delivery log

// deliveriesPerPage is one page of the delivery log. The service returns
// at most the newest maxLogged deliveries; the retention prunes the rest.
const (
	deliveriesPerPage = 20
	maxLogged         = 200
)

type attemptRow struct {
	store.WebhookAttempt
	Latency string
	Outcome string // "ok", "failed"
}

type deliveryRow struct {
	ID, EventType, State string
	Created              time.Time
	Attempts             []attemptRow // newest first
	Redeliverable        bool
}

type deliveriesData struct {
	App        apps.App
	Endpoint   endpointItem
	Deliveries []deliveryRow
	Page       int
	Prev, Next string
}

var deliveryNotices = map[string]string{
	"test":      "A test event (webhook.test) was queued: it appears below once it has been sent. Reload to see it.",
	"redeliver": "The delivery was queued again, with the same webhook-id. Reload to see the new attempt.",
}

// responseShown is how much of a logged response body the page shows.
const responseShown = 200

func (h *Handler) deliveriesPage(w http.ResponseWriter, r *http.Request) {
	u, a, ok := h.load(w, r)
	if !ok {
		return
	}
	e, ok := h.endpointOf(w, r, u)
	if !ok {
		return
	}
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	last := (maxLogged + deliveriesPerPage - 1) / deliveriesPerPage
	page = min(max(page, 1), last)
	// One more than the page holds tells whether there is a next page.
	ask := min(page*deliveriesPerPage+1, maxLogged)
	list, err := h.hooks.Deliveries(r.Context(), apps.UserActor(u.ID, false), e.ID, ask)
	if err != nil {
		h.hookFail(w, r, err)
		return
	}
	d := deliveriesData{App: a, Endpoint: endpointItems([]webhook.Endpoint{e})[0], Page: page}
	from := min((page-1)*deliveriesPerPage, len(list))
	to := min(from+deliveriesPerPage, len(list))
	base := "/portal/apps/" + a.ID + "/webhooks/" + e.ID
	if page > 1 {
		d.Prev = base + "?page=" + strconv.Itoa(page-1)
	}
	if len(list) > to {
		d.Next = base + "?page=" + strconv.Itoa(page+1)
	}
	for _, del := range list[from:to] {
		full, err := h.hooks.Delivery(r.Context(), apps.UserActor(u.ID, false), e.ID, del.ID)
		if errors.Is(err, webhook.ErrNotFound) {
			continue // pruned or deleted meanwhile
		}
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		row := deliveryRow{ID: full.ID, EventType: full.EventType, State: full.State, Created: full.CreatedAt,
			Redeliverable: full.State != store.WebhookPending && !e.Disabled}
		for i := len(full.Attempts) - 1; i >= 0; i-- {
			at := full.Attempts[i]
			outcome := "failed"
			if at.Error == "" && at.Status >= 200 && at.Status < 300 {
				outcome = "ok"
			}
			if len(at.Response) > responseShown {
				at.Response = strings.ToValidUTF8(at.Response[:responseShown], "") + "…"
			}
			row.Attempts = append(row.Attempts, attemptRow{WebhookAttempt: at, Latency: latency(at.Latency), Outcome: outcome})
		}
		d.Deliveries = append(d.Deliveries, row)
	}
	h.web.Render(w, r, http.StatusOK, "portal_webhook.html", web.Page{
		Title: "Webhook deliveries — " + a.Name, Notice: deliveryNotices[r.URL.Query().Get("msg")], Data: d,
	})
}

func latency(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}
