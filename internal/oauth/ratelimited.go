package oauth

import "net/http"

// CodeRateLimited answers a token request refused by a rate limit. RFC 6749
// §5.2 lists no code for it, and §8.5 provides for more: "In cases where
// protocol extensions ... require additional error codes to be used with ...
// the token error response (Section 5.2), such error codes MAY be defined."
// None of the listed codes fits: invalid_request would tell the client its
// request is malformed, and temporarily_unavailable is defined only for the
// authorization endpoint (§4.1.2.1). Clients act on the 429 status and
// Retry-After (RFC 6585 §4); the code names the reason for people reading
// logs.
const CodeRateLimited = "rate_limited"

// WriteRateLimited writes the token endpoint's answer to a request the rate
// limiter refused: status 429 (or 503 when the limiter cannot decide and
// fails closed), in the §5.2 JSON shape.
func WriteRateLimited(w http.ResponseWriter, r *http.Request, status int, description string) {
	code := CodeRateLimited
	if status == http.StatusServiceUnavailable {
		code = CodeTemporarilyUnavailable
	}
	// No logger: the limiter counts and logs refusals itself.
	WriteJSONError(w, r, nil, &Error{Code: code, Description: description, Status: status})
}
