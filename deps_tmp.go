package main
import (
 _ "modernc.org/sqlite"
 _ "github.com/jackc/pgx/v5/stdlib"
 _ "github.com/pressly/goose/v3"
 _ "golang.org/x/crypto/argon2"
 _ "github.com/pquerna/otp/totp"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "golang.org/x/oauth2"
 _ "gopkg.in/yaml.v3"
 _ "github.com/google/uuid"
 _ "github.com/chromedp/chromedp"
 _ "golang.org/x/time/rate"
)
func main(){}
