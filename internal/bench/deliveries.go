package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse/gatehouse/webhook"
)

// The deliveries workload measures signed webhook delivery end to end: a
// receiver on loopback in this process verifies every request with the
// public webhook package; the bench user registers it as an endpoint of
// their app in the developer portal, queues webhook.test events there
// ("Send test event", one POST each, at the bench's concurrency) and counts
// deliveries per second from the first event queued to the last one
// received. Unlike the request workloads it is not a fixed window: it
// queues up to deliveriesMax events (fewer if the window ends first) and
// waits, bounded, until they have all arrived. Latency is per event, from
// the time in its payload (when it was queued) to its arrival.

// Bounds of the deliveries workload.
const (
	deliveriesMax      = 2000
	deliveriesQuickMax = 200
	// deliveriesDrain bounds the wait for the last events after queueing.
	deliveriesDrain = 2 * time.Minute
)

// hookReceiver is the app's endpoint: it verifies each request and notes
// when each webhook-id first arrived.
type hookReceiver struct {
	ln  net.Listener
	srv *http.Server

	mu       sync.Mutex
	verifier *webhook.Verifier
	seen     map[string]bool
	hist     Histogram
	last     time.Time
	bad      uint64
	badErr   string
	arrived  atomic.Int64
	arrivedC chan struct{} // a token per new arrival
}

func startHookReceiver() (*hookReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &hookReceiver{ln: ln, seen: map[string]bool{}, arrivedC: make(chan struct{}, deliveriesMax+16)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

func (r *hookReceiver) url() string { return "http://" + r.ln.Addr().String() + "/bench/webhook" }

func (r *hookReceiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.srv.Shutdown(ctx)
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	now := time.Now()
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil && r.verifier == nil {
		err = errors.New("no secret yet")
	}
	if err == nil {
		err = r.verifier.Verify(req.Header, body)
	}
	if err != nil {
		r.bad++
		if r.badErr == "" {
			r.badErr = "receiver: " + err.Error()
		}
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	id := req.Header.Get(webhook.HeaderID)
	if !r.seen[id] { // a retry of an event already counted is not another delivery
		r.seen[id] = true
		var p struct {
			Timestamp time.Time `json:"timestamp"`
		}
		if json.Unmarshal(body, &p) == nil && !p.Timestamp.IsZero() {
			r.hist.Record(now.Sub(p.Timestamp))
		}
		r.last = now
		r.arrived.Add(1)
		select {
		case r.arrivedC <- struct{}{}:
		default:
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// portalForm is the signed-in bench user in the portal: their session
// cookie and its CSRF token.
type portalForm struct {
	f      *fixtures
	cookie string
	csrf   string
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func (p *portalForm) post(ctx context.Context, path string, form url.Values, buf *bytes.Buffer) (*http.Response, error) {
	form.Set("csrf_token", p.csrf)
	r := &request{Method: "POST", URL: path, Body: []byte(form.Encode()), CType: formType, Cookie: p.cookie, HTML: true}
	return p.f.c.do(ctx, r, buf)
}

var newSecretInput = regexp.MustCompile(`id="new_secret"[^>]*value="([^"]+)"`)
var endpointIDAttr = regexp.MustCompile(`data-endpoint="([^"]+)"`)

// setUpDeliveries registers the receiver as an endpoint of the bench app
// through the portal and returns the path that queues a test event.
func setUpDeliveries(ctx context.Context, f *fixtures, rcv *hookReceiver) (*portalForm, string, error) {
	if err := f.needSession(ctx); err != nil {
		return nil, "", err
	}
	p := &portalForm{f: f, cookie: f.jar.header()}
	base := "/portal/apps/" + url.PathEscape(f.web.ID) + "/webhooks"
	var buf bytes.Buffer
	page := &request{Method: "GET", URL: base, Cookie: p.cookie, HTML: true}
	resp, err := f.c.do(ctx, page, &buf)
	if err != nil {
		return nil, "", err
	}
	if missing(resp.StatusCode) {
		return nil, "", notAvailable("webhooks in the portal", page, resp)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", statusErr(page, resp, buf.Bytes())
	}
	m := csrfInput.FindStringSubmatch(buf.String())
	if m == nil {
		return nil, "", fmt.Errorf("%s: no CSRF token on the page", page.step())
	}
	p.csrf = html.UnescapeString(m[1])
	resp, err = p.post(ctx, base, url.Values{"url": {rcv.url()}, "event_type": {"webhook.test"}, "description": {"gatehouse bench"}}, &buf)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusCreated {
		se := statusErr(&request{Method: "POST", URL: base}, resp, buf.Bytes())
		if resp.StatusCode == http.StatusBadRequest {
			return nil, "", &NotAvailableError{What: "a loopback webhook receiver (the server refused it: start it with webhook_dev_loopback=true or allow 127.0.0.1 in webhook_allowed_hosts)"}
		}
		return nil, "", se
	}
	sm, em := newSecretInput.FindStringSubmatch(buf.String()), endpointIDAttr.FindStringSubmatch(buf.String())
	if sm == nil || em == nil {
		return nil, "", fmt.Errorf("POST %s: no secret or endpoint id on the page", base)
	}
	v, err := webhook.NewVerifier(html.UnescapeString(sm[1]))
	if err != nil {
		return nil, "", err
	}
	rcv.mu.Lock()
	rcv.verifier = v
	rcv.mu.Unlock()
	return p, base + "/" + url.PathEscape(em[1]) + "/test", nil
}

// measureDeliveries runs the deliveries workload.
func measureDeliveries(ctx context.Context, o *Options, f *fixtures, srv *serverProc) Result {
	w := workload{Name: deliveriesName, Title: deliveriesTitle, ReqsPerOp: 1}
	res := Result{Name: w.Name, Title: w.Title, RequestsPerOp: w.ReqsPerOp, Generator: GeneratorBuiltin}
	fail := func(err error) Result {
		var na *NotAvailableError
		if errors.As(err, &na) {
			res.Status, res.Reason = StatusNotAvailable, na.Error()
		} else {
			res.Status, res.Reason = StatusFailed, err.Error()
		}
		return res
	}
	rcv, err := startHookReceiver()
	if err != nil {
		return fail(err)
	}
	defer rcv.close()
	pctx, cancel := context.WithTimeout(ctx, prepareTimeout)
	p, testPath, err := setUpDeliveries(pctx, f, rcv)
	cancel()
	if err != nil {
		return fail(err)
	}
	n := deliveriesMax
	if o.Quick {
		n = deliveriesQuickMax
	}
	o.logf("running %s: up to %d webhook.test events queued for %v at concurrency %d, then waiting (at most %v) for them to arrive", w.Name, n, o.Duration, o.Concurrency, deliveriesDrain)

	var srvStart, srvEnd time.Duration
	var srvErr error
	if srv != nil {
		srvStart, srvErr = procCPU(srv.pid)
	}
	start := time.Now()
	var (
		next            atomic.Int64
		queued, qerrors atomic.Int64
		firstErr        sync.Once
		firstErrText    string
	)
	qctx, qcancel := context.WithTimeout(ctx, o.Duration)
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for qctx.Err() == nil && next.Add(1) <= int64(n) {
				resp, err := p.post(qctx, testPath, url.Values{}, &buf)
				if err == nil && resp.StatusCode != http.StatusSeeOther {
					err = statusErr(&request{Method: "POST", URL: testPath}, resp, buf.Bytes())
				}
				if err != nil {
					if qctx.Err() != nil {
						return
					}
					qerrors.Add(1)
					firstErr.Do(func() { firstErrText = err.Error() })
					continue
				}
				queued.Add(1)
			}
		}()
	}
	wg.Wait()
	qcancel()

	// Wait, bounded, until every queued event has arrived.
	want := queued.Load()
	timeout := time.NewTimer(deliveriesDrain)
	defer timeout.Stop()
wait:
	for rcv.arrived.Load() < want {
		select {
		case <-rcv.arrivedC:
		case <-timeout.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	if srv != nil && srvErr == nil {
		srvEnd, srvErr = procCPU(srv.pid)
	}

	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	got := rcv.arrived.Load()
	res.Ops = uint64(got)
	res.Errors = uint64(qerrors.Load()) + rcv.bad
	res.FirstError = firstErrText
	if res.FirstError == "" {
		res.FirstError = rcv.badErr
	}
	if got < want {
		res.Errors += uint64(want - got)
		if res.FirstError == "" {
			res.FirstError = fmt.Sprintf("%d of %d events did not arrive within %v", want-got, want, deliveriesDrain)
		}
	}
	res.Status = StatusOK
	if got > 0 {
		res.OpsPerSecond = float64(got) / rcv.last.Sub(start).Seconds()
		res.fillLatency(&rcv.hist)
	}
	if srv != nil && srvErr == nil && srvEnd >= srvStart {
		cpu := (srvEnd - srvStart).Seconds()
		res.ServerCPUSeconds = &cpu
		if got > 0 {
			per := cpu / float64(got) * 1000
			res.ServerCPUSecondsPer1k = &per
		}
		if _, hwm, err := procMem(srv.pid); err == nil {
			res.ServerPeakRSSBytesSoFar = hwm
		}
	}
	o.logf("%s: %d of %d queued events arrived, %d errors", w.Name, got, want, res.Errors)
	return res
}

// deliveriesWorkload is the catalogue entry; runWorkload hands it to
// measureDeliveries (see measure).
var deliveriesWorkload = workload{Name: deliveriesName, Title: deliveriesTitle, ReqsPerOp: 1, measure: measureDeliveries}

const (
	deliveriesName  = "webhook_deliveries"
	deliveriesTitle = "signed webhook delivered to a loopback receiver that verifies it (webhook.test queued in the portal, outbox worker, one endpoint); ops/s = deliveries/s, latency = queued to received"
)
