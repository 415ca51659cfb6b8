package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
)

// jwsSigner produces the JWS Compact Serialization (RFC 7515 §7.1) of a
// payload under one key and one protected header:
//
//	BASE64URL(UTF8(JWS Protected Header)) || '.' ||
//	BASE64URL(JWS Payload) || '.' ||
//	BASE64URL(JWS Signature)
//
// The header of a key and a typ never changes, so it is encoded once, when
// the key is opened, and a token costs one buffer and one signature. A
// general JWS library builds, marshals and encodes the header and assembles
// the parts anew for each token: under load that was a quarter of the token
// endpoint's allocations and a twentieth of its CPU (gatehouse bench,
// jwt_client_credentials_*). Parsing and verifying stay with go-jose, which
// also checks every signature made here in the tests.
type jwsSigner struct {
	alg    string
	key    crypto.Signer
	header string // the encoded protected header and the '.' after it
	sigLen int    // the signature's length in bytes
}

func newJWSSigner(alg, kid, typ string, key crypto.Signer) (*jwsSigner, error) {
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, typ})
	if err != nil {
		return nil, err
	}
	s := &jwsSigner{alg: alg, key: key, header: base64.RawURLEncoding.EncodeToString(h) + "."}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		s.sigLen = ed25519.SignatureSize
	case *ecdsa.PrivateKey:
		s.sigLen = 2 * es256Coord
	case *rsa.PrivateKey:
		s.sigLen = k.Size()
	default:
		return nil, fmt.Errorf("keys: cannot sign with a %T", key)
	}
	return s, checkKeyAlg(key, alg)
}

// es256Coord is the length of each of R and S in an ES256 signature.
const es256Coord = 32

// sign returns the compact JWS of payload. random is used by ES256 and
// RS256 (the standard library may mix it with its own entropy).
func (s *jwsSigner) sign(random io.Reader, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	n := len(s.header) + enc.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+enc.EncodedLen(s.sigLen))
	copy(buf, s.header)
	enc.Encode(buf[len(s.header):], payload)
	sig, err := s.signature(random, buf) // the JWS Signing Input
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	return string(enc.AppendEncode(buf, sig)), nil
}

func (s *jwsSigner) signature(random io.Reader, input []byte) ([]byte, error) {
	if k, ok := s.key.(ed25519.PrivateKey); ok {
		// RFC 8037 §3.1: the signature is Ed25519 of the signing input
		// itself; no pre-hash.
		return ed25519.Sign(k, input), nil
	}
	digest := sha256.Sum256(input)
	switch k := s.key.(type) {
	case *ecdsa.PrivateKey:
		r, ss, err := ecdsa.Sign(random, k, digest[:])
		if err != nil {
			return nil, err
		}
		// RFC 7518 §3.4: "the JWS Signature value MUST be a 64-octet
		// sequence" — R and S as 32-octet big-endian integers, not the
		// ASN.1 DER the standard library produces.
		sig := make([]byte, 2*es256Coord)
		r.FillBytes(sig[:es256Coord])
		ss.FillBytes(sig[es256Coord:])
		return sig, nil
	case *rsa.PrivateKey:
		// RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256.
		return rsa.SignPKCS1v15(random, k, crypto.SHA256, digest[:])
	}
	return nil, fmt.Errorf("keys: cannot sign with a %T", s.key)
}
