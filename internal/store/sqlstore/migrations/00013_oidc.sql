-- OpenID Connect. A grant remembers how its user signed in (when, with which
-- methods, and the nonce of the authorization request), because the ID token
-- the token endpoint issues — at code redemption and on every refresh —
-- states auth_time and amr. A client may register where RP-initiated logout
-- may send the browser back to, and the algorithm of its ID tokens.

-- +goose Up
CREATE TABLE grant_sign_ins (
    grant_id  TEXT PRIMARY KEY REFERENCES grants (id) ON DELETE CASCADE,
    auth_time BIGINT NOT NULL,
    amr       TEXT NOT NULL,
    nonce     TEXT NOT NULL DEFAULT ''
);

CREATE TABLE client_oidc (
    client_id                    TEXT PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE,
    post_logout_redirect_uris    TEXT NOT NULL DEFAULT '[]',
    id_token_signed_response_alg TEXT NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE client_oidc;
DROP TABLE grant_sign_ins;
