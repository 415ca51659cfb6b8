package app

import (
	"os"
	"runtime"
	"strconv"
	"strings"

	"github.com/gatehouse/gatehouse/internal/authn"
	"github.com/gatehouse/gatehouse/internal/config"
	"github.com/gatehouse/gatehouse/internal/identity"
	"github.com/gatehouse/gatehouse/internal/web"
)

// buildAccounts wires issue 3: the account service, the API authenticator
// (other areas register their bearer validators on a.Authn) and the account
// pages (other page areas use a.Accounts.Render / VerifyCSRF / CurrentUser).
func (a *App) buildAccounts() error {
	cfg := identity.DefaultConfig()
	cfg.Argon2.Memory = a.Config.Argon2MemoryKiB
	cfg.Argon2.Iterations = a.Config.Argon2Time
	cfg.Argon2.Parallelism = a.Config.Argon2Threads
	cfg.HashLimits.Slots = a.Config.Argon2Concurrency
	if cfg.HashLimits.Slots == 0 {
		cfg.HashLimits.Slots = identity.AutoHashSlots(runtime.GOMAXPROCS(0), availableMemory(), cfg.Argon2)
	}
	cfg.SessionIdleTimeout = a.Config.SessionIdleTTL
	cfg.SessionLifetime = a.Config.SessionMaxTTL
	// Authenticator apps label the entry with the issuer: the site's name,
	// so people find "Example Corp" there, not the software's name.
	cfg.TOTPIssuer = a.Config.SiteName
	cfg.Metrics = identity.NewMetrics(a.Registry)
	cfg.Audit = a.Audit
	cfg.Activity = a.Activity
	var err error
	if a.Identity, err = identity.New(a.Store, a.Box, a.Hasher, a.Now, a.Rand, a.Log, cfg); err != nil {
		return err
	}
	if a.Authn, err = authn.New(authn.Config{Issuer: a.Config.Issuer, BasicAuth: a.Config.BasicAuth, CredentialEnv: a.credentialEnv(),
		Audit: a.Audit, Now: a.Now}, a.Identity, a.Log); err != nil {
		return err
	}
	lim := a.Identity.HashLimiter().Limits()
	a.Log.Info("password hashing bounded", "concurrent", lim.Slots, "queue", lim.Queue, "max_wait", lim.MaxWait.String(),
		"memory_per_hash_kib", cfg.Argon2.Memory)
	wc := web.Config{
		Issuer: a.Config.Issuer, SiteName: a.Config.SiteName, LogoURL: a.Config.LogoURL,
		AccentColor: a.Config.AccentColor, DisableSignup: !a.Config.SignupOpen(),
		AppNames: appNames{a}, Mail: a.buildAccountMail(), Sandbox: a.sandbox(),
	}
	if a.Config.SupportContact != "" {
		// Validated with the configuration, so this cannot fail here.
		wc.SupportHref, _ = config.SupportHref(a.Config.SupportContact)
		wc.SupportLabel = a.Config.SupportContact
	}
	a.Accounts, err = web.New(wc, a.Identity, a.Hasher, a.Now, a.Log)
	return err
}

// availableMemory is the memory this process may use, in bytes: the smaller
// of the cgroup v2 limit (containers) and MemAvailable from /proc/meminfo; 0
// when neither can be read (other systems), which leaves only the core count
// to size password hashing.
func availableMemory() uint64 {
	var avail uint64
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
				if kib, err := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64); err == nil {
					avail = kib * 1024
				}
			}
		}
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil && (avail == 0 || n < avail) {
			avail = n // "max" (no limit) does not parse and is skipped
		}
	}
	return avail
}
