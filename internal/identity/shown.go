package identity

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

// RecoveryCodesViewTTL bounds how long freshly made recovery codes can be
// shown again (reloaded, downloaded, copied) after the form that made them.
const RecoveryCodesViewTTL = 10 * time.Minute

// ErrNothingToShow: the sealed recovery codes are missing, expired, or belong
// to another session.
var ErrNothingToShow = errors.New("identity: no recovery codes to show")

// ShownCodes are freshly made recovery codes on their way to the one page
// that shows them.
type ShownCodes struct {
	Codes []string `json:"codes"`
	// Enrolled is set when the codes were made by turning two-factor on.
	Enrolled bool  `json:"enrolled,omitempty"`
	Expires  int64 `json:"exp"` // unix ms
}

// SealShownCodes seals codes for the browser to carry from the form that made
// them to the page that shows them, so that page is a plain GET (no form to
// resubmit) and the codes are stored nowhere but in that browser, for
// RecoveryCodesViewTTL. The seal is bound to the session: another session —
// after sign-out, or a stolen cookie on another browser — cannot open it.
func (s *Service) SealShownCodes(sess *store.Session, codes []string, enrolled bool) (string, error) {
	b, err := json.Marshal(ShownCodes{Codes: codes, Enrolled: enrolled, Expires: s.time().Add(RecoveryCodesViewTTL).UnixMilli()})
	if err != nil {
		return "", err
	}
	return s.box.Seal(b, shownContext(sess))
}

// OpenShownCodes opens what SealShownCodes sealed for this session, or
// returns ErrNothingToShow. The expiry is checked here, not left to the
// cookie's Max-Age, which the browser controls.
func (s *Service) OpenShownCodes(sess *store.Session, sealed string) (*ShownCodes, error) {
	if sealed == "" || sess == nil {
		return nil, ErrNothingToShow
	}
	b, err := s.box.Open(sealed, shownContext(sess))
	if err != nil {
		return nil, ErrNothingToShow
	}
	var sc ShownCodes
	if err := json.Unmarshal(b, &sc); err != nil || len(sc.Codes) == 0 || s.time().UnixMilli() >= sc.Expires {
		return nil, ErrNothingToShow
	}
	return &sc, nil
}

func shownContext(sess *store.Session) string { return "recovery-codes-shown:" + sess.ID }
