package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/internal/store"
)

const userCols = `id, email, name, password_hash, admin, disabled, totp_secret, totp_enabled,
	credentials_changed_at, created_at, updated_at, must_change_password`

func scanUser(sc interface{ Scan(...any) error }, u *store.User) error {
	var cca, ca, ua int64
	if err := sc.Scan(&u.ID, &u.Email, &u.Name, &u.PasswordHash, &u.Admin, &u.Disabled,
		&u.TOTPSecret, &u.TOTPEnabled, &cca, &ca, &ua, &u.MustChangePassword); err != nil {
		return err
	}
	u.CredentialsChangedAt, u.CreatedAt, u.UpdatedAt = fromMS(cca), fromMS(ca), fromMS(ua)
	return nil
}

// CreateUser implements store.Users.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	_, err := s.wq.exec(ctx, `INSERT INTO users (`+userCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.Name, u.PasswordHash, u.Admin, u.Disabled, u.TOTPSecret, u.TOTPEnabled,
		ms(u.CredentialsChangedAt), ms(u.CreatedAt), ms(u.UpdatedAt), u.MustChangePassword)
	return mapErr("create user", err)
}

// UserByID implements store.Users.
func (s *Store) UserByID(ctx context.Context, id string) (*store.User, error) {
	return s.userBy(ctx, "user by id", `SELECT `+userCols+` FROM users WHERE id = ?`, id)
}

// UserByEmail implements store.Users.
func (s *Store) UserByEmail(ctx context.Context, email string) (*store.User, error) {
	return s.userBy(ctx, "user by email", `SELECT `+userCols+` FROM users WHERE email = ?`, email)
}

func (s *Store) userBy(ctx context.Context, op, query, arg string) (*store.User, error) {
	row, err := s.rq.queryRow(ctx, query, arg)
	if err != nil {
		return nil, mapErr(op, err)
	}
	u := new(store.User)
	if err := scanUser(row, u); err != nil {
		return nil, mapErr(op, err)
	}
	return u, nil
}

// ListUsers implements store.Users, oldest account first.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, err := s.rq.query(ctx, `SELECT `+userCols+` FROM users ORDER BY created_at, id`)
	if err != nil {
		return nil, mapErr("list users", err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		var u store.User
		if err := scanUser(rows, &u); err != nil {
			return nil, mapErr("list users", err)
		}
		out = append(out, u)
	}
	return out, mapErr("list users", rows.Err())
}

// UpdatePassword implements store.Users.
func (s *Store) UpdatePassword(ctx context.Context, userID, hash string, rotate bool, at time.Time) error {
	var (
		res sql.Result
		err error
	)
	if rotate {
		res, err = s.wq.exec(ctx, `UPDATE users SET password_hash = ?, credentials_changed_at = ?, updated_at = ?,
			must_change_password = FALSE WHERE id = ?`,
			hash, ms(at), ms(at), userID)
	} else {
		// A transparent rehash is not a credential change: sessions and PATs
		// stay valid.
		res, err = s.wq.exec(ctx, `UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?`,
			hash, ms(at), userID)
	}
	return affectedOne("update password", res, err)
}

// SetDisabled implements store.Users. Disabling also moves
// CredentialsChangedAt, so sessions and PATs issued before stay dead after a
// later re-enable.
func (s *Store) SetDisabled(ctx context.Context, userID string, disabled bool, at time.Time) error {
	var (
		res sql.Result
		err error
	)
	if disabled {
		res, err = s.wq.exec(ctx, `UPDATE users SET disabled = ?, credentials_changed_at = ?, updated_at = ? WHERE id = ?`,
			true, ms(at), ms(at), userID)
	} else {
		res, err = s.wq.exec(ctx, `UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`,
			false, ms(at), userID)
	}
	return affectedOne("set disabled", res, err)
}

// SetAdmin implements store.Users.
func (s *Store) SetAdmin(ctx context.Context, userID string, admin bool, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE users SET admin = ?, updated_at = ? WHERE id = ?`, admin, ms(at), userID)
	return affectedOne("set admin", res, err)
}

// SetMustChangePassword implements store.Users.
func (s *Store) SetMustChangePassword(ctx context.Context, userID string, must bool, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE users SET must_change_password = ?, updated_at = ? WHERE id = ?`,
		must, ms(at), userID)
	return affectedOne("set must change password", res, err)
}

// SetTOTP implements store.Users.
func (s *Store) SetTOTP(ctx context.Context, userID, sealedSecret string, enabled bool, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE users SET totp_secret = ?, totp_enabled = ?, updated_at = ? WHERE id = ?`,
		sealedSecret, enabled, ms(at), userID)
	return affectedOne("set totp", res, err)
}

// UseTOTPStep implements store.Users: the (user_id, step) primary key
// refuses a second insert, even from a concurrent request or another replica.
func (s *Store) UseTOTPStep(ctx context.Context, userID string, step int64, at time.Time) error {
	_, err := s.wq.exec(ctx, `INSERT INTO totp_used_steps (user_id, step, used_at) VALUES (?, ?, ?)`,
		userID, step, ms(at))
	err = mapErr("use totp step", err)
	if isConflict(err) {
		return fmt.Errorf("use totp step: %w", store.ErrAlreadyUsed)
	}
	return err
}

// ReplaceRecoveryCodes implements store.Users.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, at time.Time) error {
	return mapErr("replace recovery codes", s.inTx(ctx, func(t *tx) error {
		if _, err := t.exec(ctx, `DELETE FROM recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := t.exec(ctx, `INSERT INTO recovery_codes (user_id, hash, created_at) VALUES (?, ?, ?)`,
				userID, h, ms(at)); err != nil {
				return err
			}
		}
		return nil
	}))
}

// UseRecoveryCode implements store.Users with one conditional UPDATE: of
// concurrent uses of the same code exactly one changes a row.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, at time.Time) error {
	res, err := s.wq.exec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND hash = ? AND used_at IS NULL`,
		ms(at), userID, hash)
	return affectedOne("use recovery code", res, err)
}

// CountRecoveryCodes implements store.Users.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	row, err := s.rq.queryRow(ctx, `SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID)
	if err != nil {
		return 0, mapErr("count recovery codes", err)
	}
	var n int
	if err := row.Scan(&n); err != nil {
		return 0, mapErr("count recovery codes", err)
	}
	return n, nil
}

// DeleteTOTPStepsBefore implements store.Users.
func (s *Store) DeleteTOTPStepsBefore(ctx context.Context, step int64) (int64, error) {
	return s.deleteCount(ctx, "delete old totp steps", `DELETE FROM totp_used_steps WHERE step < ?`, step)
}
