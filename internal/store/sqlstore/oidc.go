package sqlstore

import (
	"context"

	"github.com/gatehouse/gatehouse/internal/store"
)

// CreateSignIn implements store.OIDC. It runs through group commit like the
// grant it belongs to, so it is visible once it returns.
func (s *Store) CreateSignIn(ctx context.Context, si *store.SignIn) error {
	amr, err := encodeList(si.AMR)
	if err != nil {
		return mapErr("create sign-in", err)
	}
	return mapErr("create sign-in", s.batchDo(ctx, func(t *tx) error {
		_, err := t.exec(context.Background(), `INSERT INTO grant_sign_ins (grant_id, auth_time, amr, nonce) VALUES (?, ?, ?, ?)`,
			si.GrantID, ms(si.AuthTime), amr, si.Nonce)
		return err
	}))
}

// SignInByGrant implements store.OIDC.
func (s *Store) SignInByGrant(ctx context.Context, grantID string) (*store.SignIn, error) {
	row, err := s.rq.queryRow(ctx, `SELECT grant_id, auth_time, amr, nonce FROM grant_sign_ins WHERE grant_id = ?`, grantID)
	if err != nil {
		return nil, mapErr("sign-in by grant", err)
	}
	var (
		si  store.SignIn
		at  int64
		amr string
	)
	if err := row.Scan(&si.GrantID, &at, &amr, &si.Nonce); err != nil {
		return nil, mapErr("sign-in by grant", err)
	}
	si.AuthTime = fromMS(at)
	if si.AMR, err = decodeList(amr); err != nil {
		return nil, mapErr("sign-in by grant", err)
	}
	return &si, nil
}

// PutClientOIDC implements store.OIDC.
func (s *Store) PutClientOIDC(ctx context.Context, c *store.ClientOIDC) error {
	uris, err := encodeList(c.PostLogoutRedirectURIs)
	if err != nil {
		return mapErr("put client oidc", err)
	}
	_, err = s.wq.exec(ctx, `INSERT INTO client_oidc (client_id, post_logout_redirect_uris, id_token_signed_response_alg) VALUES (?, ?, ?)
		ON CONFLICT (client_id) DO UPDATE SET post_logout_redirect_uris = excluded.post_logout_redirect_uris,
		id_token_signed_response_alg = excluded.id_token_signed_response_alg`,
		c.ClientID, uris, c.IDTokenAlg)
	return mapErr("put client oidc", err)
}

// ClientOIDC implements store.OIDC.
func (s *Store) ClientOIDC(ctx context.Context, clientID string) (*store.ClientOIDC, error) {
	row, err := s.rq.queryRow(ctx, `SELECT client_id, post_logout_redirect_uris, id_token_signed_response_alg FROM client_oidc WHERE client_id = ?`, clientID)
	if err != nil {
		return nil, mapErr("client oidc", err)
	}
	var (
		c    store.ClientOIDC
		uris string
	)
	if err := row.Scan(&c.ClientID, &uris, &c.IDTokenAlg); err != nil {
		return nil, mapErr("client oidc", err)
	}
	if c.PostLogoutRedirectURIs, err = decodeList(uris); err != nil {
		return nil, mapErr("client oidc", err)
	}
	return &c, nil
}
