package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/internal/store"
)

// Discovery is the OpenID Provider Metadata (OpenID Connect Discovery 1.0
// §3): the RFC 8414 document plus the OpenID Connect entries, so the two
// can never disagree on issuer or endpoints.
type Discovery struct {
	Metadata
	UserInfoEndpoint                 string   `json:"userinfo_endpoint"`
	EndSessionEndpoint               string   `json:"end_session_endpoint"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	ClaimsParameterSupported         bool     `json:"claims_parameter_supported"`
	RequestParameterSupported        bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported     bool     `json:"request_uri_parameter_supported"`
}

// Discovery describes this OpenID Provider. Discovery §4.3: "The issuer value
// returned MUST be identical to the Issuer URL that was used as the prefix to
// /.well-known/openid-configuration".
func (s *Service) Discovery() Discovery {
	algs := []string{DefaultIDTokenAlg}
	if s.signer != nil {
		algs = s.signer.Algorithms()
	}
	return Discovery{
		Metadata:                         s.Metadata(),
		UserInfoEndpoint:                 s.issuer + PathUserInfo,
		EndSessionEndpoint:               s.issuer + PathLogout,
		SubjectTypesSupported:            s.SubjectTypesSupported(),
		IDTokenSigningAlgValuesSupported: algs,
		ClaimsSupported: []string{
			"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash",
			"name", "updated_at", "email", "email_verified",
		},
		// request_uri_parameter_supported defaults to true (Discovery §3):
		// say it is not.
		RequestURIParameterSupported: false,
	}
}

func (h *Handler) oidcRoutes(mux *http.ServeMux) {
	if h.svc.signer == nil {
		return // no keys: not an OpenID Provider
	}
	mux.HandleFunc("GET "+PathDiscovery, h.discovery)
	mux.HandleFunc("GET "+PathUserInfo, h.userinfo)
	mux.HandleFunc("POST "+PathUserInfo, h.userinfo)
	mux.Handle("GET "+PathLogout, h.ui.Wrap(http.HandlerFunc(h.logout)))
	mux.Handle("POST "+PathLogout, h.ui.Wrap(http.HandlerFunc(h.logout)))
}

func (h *Handler) discovery(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	hd.Set("Cache-Control", "public, max-age=3600")
	hd.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(h.svc.Discovery())
}

// ---------------------------------------------------------------- userinfo

// UserInfo returns the claims about the user of an access token. OpenID
// Connect Core §5.3.1: "The Client sends the UserInfo Request using either
// HTTP GET or HTTP POST. The Access Token obtained from an OpenID Connect
// Authentication Request MUST be sent as a Bearer Token".
func (s *Service) UserInfo(ctx context.Context, accessToken string) (map[string]any, error) {
	info, err := s.ValidateAccessToken(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	scopes := s.catalog().Carried(carrierOf(info), info.Scopes)
	if !isOIDC(scopes) {
		return nil, ErrInsufficientScope("the access token was not issued for an OpenID Connect request (scope openid)")
	}
	u, err := s.st.UserByID(ctx, info.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidToken("the access token is invalid, expired or revoked")
	}
	if err != nil {
		return nil, ErrServerError(err)
	}
	verified, err := s.emailVerified(ctx, u.ID, scopes)
	if err != nil {
		return nil, ErrServerError(err)
	}
	sub, err := s.subjectForClient(ctx, info.ClientID, u.ID)
	if err != nil {
		return nil, ErrServerError(err)
	}
	c := userClaims(u, verified, scopes)
	// §5.3.2: "The sub (subject) Claim MUST always be returned in the
	// UserInfo Response." It is the ID token's sub — pairwise for a
	// pairwise client: "the sub Claim in the UserInfo Response MUST be
	// verified to exactly match the sub Claim in the ID Token".
	out := map[string]any{"sub": sub}
	b, _ := json.Marshal(c)
	_ = json.Unmarshal(b, &out)
	return out, nil
}

func (h *Handler) userinfo(w http.ResponseWriter, r *http.Request) {
	// RFC 6750 §2.1: the Authorization header. (The form-body and query
	// methods of §2.2 and §2.3 are not accepted: tokens in bodies and URLs
	// end up in logs.)
	if len(r.Header.Values("Authorization")) > 1 {
		WriteBearerError(w, r, h.log, ErrInvalidRequest("more than one Authorization header"))
		return
	}
	authz := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(authz, " ")
	if authz == "" {
		// RFC 6750 §3.1: "If the request lacks any authentication
		// information ..., the resource server SHOULD NOT include an error
		// code or other error information."
		WriteBearerError(w, r, h.log, nil)
		return
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		WriteBearerError(w, r, h.log, ErrInvalidRequest("send the access token as Authorization: Bearer <token>"))
		return
	}
	claims, err := h.svc.UserInfo(r.Context(), strings.TrimSpace(token))
	if err != nil {
		WriteBearerError(w, r, h.log, err)
		return
	}
	writeJSON(w, http.StatusOK, claims)
}

// ---------------------------------------------------------------- logout

// LogoutRequest is an RP-initiated logout request (OpenID Connect
// RP-Initiated Logout 1.0 §2).
type LogoutRequest struct {
	IDTokenHint           string
	ClientID              string
	PostLogoutRedirectURI string
	State                 string
}

// Logout is what to do with a logout request.
type Logout struct {
	// Confirm: the request does not prove which app asks or for which user
	// (no valid id_token_hint): the user must confirm signing out.
	Confirm bool
	// Subject is the hint's user (sign out only if it is the signed-in one).
	Subject string
	// RedirectTo is where to send the browser afterwards ("" for the
	// server's signed-out page).
	RedirectTo string
	// hintClient is the client the hint was issued to (nil when unknown):
	// Subject is the sub as that client was shown it.
	hintClient *store.Client
}

// HintNames reports whether the logout request's id_token_hint names
// userID. A pairwise sub cannot be mapped back to a user, so the signed-in
// user's sub for the hint's client is computed and compared.
func (s *Service) HintNames(lo *Logout, userID string) bool {
	if lo.Subject == "" {
		return false
	}
	if lo.hintClient == nil {
		return lo.Subject == userID
	}
	return s.hintMatches(lo.hintClient, lo.Subject, userID)
}

// ResolveLogout checks a logout request. A *PageError is shown, never
// redirected (an unregistered post_logout_redirect_uri is not trusted).
func (s *Service) ResolveLogout(ctx context.Context, req LogoutRequest) (*Logout, error) {
	var (
		sub string
		aud []string
	)
	if req.IDTokenHint != "" {
		var err error
		if sub, aud, err = s.HintSubject(ctx, req.IDTokenHint); err != nil {
			// §2: "the OP ... MUST NOT ... redirect" to an unverified
			// post_logout_redirect_uri; ask the user instead.
			return &Logout{Confirm: true}, nil
		}
	}
	clientID := req.ClientID
	if clientID == "" && len(aud) == 1 {
		clientID = aud[0]
	}
	if clientID != "" && len(aud) > 0 && !slices.Contains(aud, clientID) {
		// §2 client_id: "If both client_id and id_token_hint are present,
		// the OP MUST verify that the Client Identifier matches the one
		// used when issuing the ID Token."
		return nil, pageError(ErrInvalidRequest("client_id does not match the id_token_hint"))
	}
	out := &Logout{Subject: sub, Confirm: sub == ""}
	if sub != "" && len(aud) == 1 {
		e, _, err := s.loadClient(ctx, aud[0], false)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A deleted client's hint names nobody that can be checked.
			out.Confirm = true
		case err != nil:
			return nil, pageError(ErrServerError(err))
		default:
			out.hintClient = e.client
		}
	}
	if req.PostLogoutRedirectURI != "" {
		// §3: "The OP MUST NOT perform post-logout redirection if the
		// post_logout_redirect_uri value supplied does not exactly match
		// one of the previously registered post_logout_redirect_uris
		// values."
		if clientID == "" {
			return nil, pageError(ErrInvalidRequest("post_logout_redirect_uri needs id_token_hint or client_id"))
		}
		co, err := s.st.ClientOIDC(ctx, clientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, pageError(ErrServerError(err))
		}
		if co == nil || !slices.Contains(co.PostLogoutRedirectURIs, req.PostLogoutRedirectURI) {
			return nil, pageError(ErrInvalidRequest("post_logout_redirect_uri is not registered for this client"))
		}
		if !out.Confirm {
			p := url.Values{}
			if req.State != "" {
				p.Set("state", req.State)
			}
			out.RedirectTo = buildRedirect(req.PostLogoutRedirectURI, ModeQuery, p)
		}
	}
	return out, nil
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.ui.RenderError(w, r, ErrInvalidRequest("the request could not be read"))
		return
	}
	// §2: "OPs MUST support the use of HTTP GET and POST methods".
	v := r.Form
	req := LogoutRequest{
		IDTokenHint: v.Get("id_token_hint"), ClientID: v.Get("client_id"),
		PostLogoutRedirectURI: v.Get("post_logout_redirect_uri"), State: v.Get("state"),
	}
	lo, err := h.svc.ResolveLogout(r.Context(), req)
	if err != nil {
		e := AsError(err)
		logError(h.log, r, e)
		h.ui.RenderError(w, r, e)
		return
	}
	userID, _, signedIn := h.ui.CurrentUser(r)
	if lo.Confirm || (signedIn && !h.svc.HintNames(lo, userID)) {
		// Never sign out a user on the word of a token about someone else.
		h.ui.ConfirmLogout(w, r)
		return
	}
	if err := h.ui.SignOut(w, r); err != nil {
		h.ui.RenderError(w, r, ErrServerError(err))
		return
	}
	setNoStore(w.Header())
	to := lo.RedirectTo
	if to == "" {
		to = "/login?msg=signed_out"
	}
	http.Redirect(w, r, to, http.StatusFound)
}
