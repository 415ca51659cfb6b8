package oauth

import "github.com/gatehouse/gatehouse/internal/store"

// sandboxEnvironment is the Environment of an app registered in a sandbox
// deployment, where apps are approved on registration without review.
const sandboxEnvironment = "sandbox"

// describeApp fills in what the consent page says about who is asking: the
// app's own links and logo, and whether the operator reviewed it. Only an
// active production app was reviewed (or registered by the operator); a
// sandbox app is active without anyone having looked at it, so the page
// warns instead. The links are shown as the developer registered them; the
// apps service accepts only http(s) URLs, and html/template refuses any
// other scheme in an href anyway.
func describeApp(v *ConsentView, c *store.Client) {
	v.HomepageURL, v.PrivacyURL, v.TermsURL = c.HomepageURL, c.PrivacyURL, c.TermsURL
	if c.HasLogo {
		// The logo is served by Gatehouse from the stored, re-encoded copy
		// (never hot-linked); the version defeats a stale cache after the
		// developer replaces it.
		v.LogoURL = "/apps/" + c.ID + "/logo.png?v=" + c.UpdatedAt.UTC().Format("20060102150405")
	}
	sandbox := c.Environment == sandboxEnvironment
	v.Reviewed = c.Status == store.ClientActive && !sandbox
	v.Unreviewed = sandbox
}
